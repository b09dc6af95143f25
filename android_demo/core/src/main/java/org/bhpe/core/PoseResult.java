package org.bhpe.core;

import java.util.Collections;
import java.util.List;

/** Keypoints of one person (image pixels), the skeleton to draw them with, and the crop region used. */
public final class PoseResult {
    public final List<Keypoint> keypoints;
    public final Skeleton skeleton;
    public final CenterScale region;

    public PoseResult(List<Keypoint> keypoints, Skeleton skeleton, CenterScale region) {
        this.keypoints = Collections.unmodifiableList(keypoints);
        this.skeleton = skeleton;
        this.region = region;
    }

    /** Mean score over all keypoints. */
    public float meanScore() {
        if (keypoints.isEmpty()) return 0f;
        double s = 0;
        for (Keypoint k : keypoints) s += k.score;
        return (float) (s / keypoints.size());
    }
}
