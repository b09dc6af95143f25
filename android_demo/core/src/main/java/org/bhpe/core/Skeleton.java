package org.bhpe.core;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/** Keypoint names and the edges to draw between them (0-based), for the skeleton overlay. */
public final class Skeleton {
    public final String dataset;
    public final List<String> names;
    private final int[][] edges;

    public Skeleton(String dataset, List<String> names, int[][] edges) {
        for (int[] e : edges) {
            if (e.length != 2 || e[0] < 0 || e[1] < 0 || e[0] >= names.size() || e[1] >= names.size()) {
                throw new IllegalArgumentException("skeleton edge " + Arrays.toString(e) + " out of range for "
                        + names.size() + " keypoints");
            }
        }
        this.dataset = dataset;
        this.names = Collections.unmodifiableList(names);
        this.edges = ModelCard.deepCopy(edges);
    }

    public int[][] edges() {
        return ModelCard.deepCopy(edges);
    }

    public int size() {
        return names.size();
    }

    /** COCO's 17 keypoints and its 19 skeleton edges (cocoapi's list, converted to 0-based). */
    public static final Skeleton COCO_17 = new Skeleton("coco", Arrays.asList(
            "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
            "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
            "right_knee", "left_ankle", "right_ankle"), new int[][] {
            {15, 13}, {13, 11}, {16, 14}, {14, 12}, {11, 12}, {5, 11}, {6, 12}, {5, 6}, {5, 7}, {6, 8}, {7, 9},
            {8, 10}, {1, 2}, {0, 1}, {0, 2}, {1, 3}, {2, 4}, {3, 5}, {4, 6}});

    /** MPII's 16 joints (HRNet / mmpose order) and the limb edges of bhpe_tf/data/keypoints.json. */
    public static final Skeleton MPII_16 = new Skeleton("mpii", Arrays.asList(
            "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "pelvis", "thorax",
            "upper_neck", "head_top", "right_wrist", "right_elbow", "right_shoulder", "left_shoulder",
            "left_elbow", "left_wrist"), new int[][] {
            {0, 1}, {1, 2}, {2, 6}, {6, 3}, {3, 4}, {4, 5}, {6, 7}, {7, 8}, {8, 9}, {8, 12}, {12, 11}, {11, 10},
            {8, 13}, {13, 14}, {14, 15}});

    /** Left/right pairs: COCO {@code [[1,2],...,[15,16]]}, MPII {@code [[0,5],[1,4],[2,3],[10,15],[11,14],[12,13]]}. */
    public static final int[][] COCO_FLIP_PAIRS = {{1, 2}, {3, 4}, {5, 6}, {7, 8}, {9, 10}, {11, 12}, {13, 14}, {15, 16}};
    public static final int[][] MPII_FLIP_PAIRS = {{0, 5}, {1, 4}, {2, 3}, {10, 15}, {11, 14}, {12, 13}};

    /** The built-in skeleton for a dataset name ({@code coco}, {@code mpii}) or {@code null}. */
    public static Skeleton forDataset(String dataset) {
        if ("coco".equals(dataset)) return COCO_17;
        if ("mpii".equals(dataset)) return MPII_16;
        return null;
    }
}
