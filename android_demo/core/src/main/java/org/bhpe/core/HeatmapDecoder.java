package org.bhpe.core;

import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Heatmaps -> image keypoints, {@code argmax_quarter_offset} (HRNet's {@code get_final_preds} without
 * DARK; {@code bhpe_tf.data.codecs.HeatmapCodec(decoding="standard")}'s {@code decode} + {@code to_image}):
 * per joint the first argmax pixel {@code (x, y)} of its {@code H x W} map (joints whose maximum is not
 * positive go to {@code (0, 0)}), moved 0.25 px toward the higher neighbour on each axis where
 * {@code 1 < x < W-1} and {@code 1 < y < H-1}, then mapped to the image through the inverse crop affine
 * built for the heatmap size. The score is the heatmap maximum. Heatmaps are NHWC {@code [1, H, W, K]}.
 */
public final class HeatmapDecoder {
    private final int height;
    private final int width;
    private final int channels;
    private final int outputIndex;
    private final Skeleton skeleton;

    /** For the card's {@code heatmaps} output; checks that the card describes a decodable heatmap model. */
    public HeatmapDecoder(ModelCard card) {
        if (!card.isKeypointModel() || card.heatmap == null || card.keypoints == null) {
            throw new ModelCardException("task", "heatmap decoding needs a keypoints_2d card with heatmap and keypoints, got task "
                    + card.task);
        }
        ModelCard.Output out = card.outputOfKind("heatmaps");
        int[] shape = out.shape();
        if (shape.length != 4 || shape[0] != 1) {
            throw new ModelCardException("outputs[" + out.index + "].shape",
                    "a heatmaps output must be [1, H, W, K] (NHWC), got " + java.util.Arrays.toString(shape));
        }
        int stride = card.heatmap.stride;
        if (shape[1] * stride != card.input.height() || shape[2] * stride != card.input.width()) {
            throw new ModelCardException("heatmap.stride", "stride " + stride + " does not map the " + card.input.height()
                    + "x" + card.input.width() + " input onto the " + shape[1] + "x" + shape[2] + " heatmaps");
        }
        this.height = shape[1];
        this.width = shape[2];
        this.channels = shape[3];
        this.outputIndex = out.index;
        this.skeleton = card.keypoints.asSkeleton();
    }

    public int height() { return height; }
    public int width() { return width; }
    public int channels() { return channels; }
    /** The interpreter output index of the heatmaps. */
    public int outputIndex() { return outputIndex; }
    public Skeleton skeleton() { return skeleton; }

    /**
     * Decode to heatmap-pixel coordinates: fills {@code coords} ({@code 2K}: x, y) and {@code scores} ({@code K}).
     * {@code heatmaps} holds {@code H * W * K} floats, channel fastest (NHWC).
     */
    public static void decodeHeatmapCoords(FloatBuffer heatmaps, int h, int w, int k, float[] coords, float[] scores) {
        if (heatmaps.remaining() < h * w * k) {
            throw new InputShapeException("heatmap buffer has " + heatmaps.remaining() + " floats, expected "
                    + h + "*" + w + "*" + k + " = " + (h * w * k));
        }
        if (coords.length < 2 * k || scores.length < k) {
            throw new IllegalArgumentException("output arrays too small for " + k + " keypoints");
        }
        int base = heatmaps.position();
        for (int j = 0; j < k; j++) {
            int best = 0;
            float bestVal = heatmaps.get(base + j);
            for (int p = 1, n = h * w; p < n; p++) {
                float v = heatmaps.get(base + p * k + j);
                if (v > bestVal || (Float.isNaN(v) && !Float.isNaN(bestVal))) {  // numpy argmax: first max, NaN wins
                    best = p;
                    bestVal = v;
                }
            }
            float px = 0f, py = 0f;
            if (bestVal > 0) {
                px = best % w;
                py = best / w;
            }
            int ix = (int) px, iy = (int) py;
            if (px > 1 && px < w - 1 && py > 1 && py < h - 1) {
                float dx = heatmaps.get(base + (iy * w + ix + 1) * k + j) - heatmaps.get(base + (iy * w + ix - 1) * k + j);
                float dy = heatmaps.get(base + ((iy + 1) * w + ix) * k + j) - heatmaps.get(base + ((iy - 1) * w + ix) * k + j);
                px += 0.25f * Math.signum(dx);
                py += 0.25f * Math.signum(dy);
            }
            coords[2 * j] = px;
            coords[2 * j + 1] = py;
            scores[j] = bestVal;
        }
    }

    public static void decodeHeatmapCoords(float[] heatmaps, int h, int w, int k, float[] coords, float[] scores) {
        decodeHeatmapCoords(FloatBuffer.wrap(heatmaps), h, w, k, coords, scores);
    }

    /** Decode the {@code [1, H, W, K]} heatmaps of a crop taken at {@code region} into image keypoints. */
    public PoseResult decode(FloatBuffer heatmaps, CenterScale region) {
        float[] coords = new float[2 * channels];
        float[] scores = new float[channels];
        decodeHeatmapCoords(heatmaps, height, width, channels, coords, scores);
        Affine inv = region.transform(width, height, true);
        List<Keypoint> keypoints = new ArrayList<>(channels);
        for (int j = 0; j < channels; j++) {
            double x = coords[2 * j], y = coords[2 * j + 1];
            keypoints.add(new Keypoint(skeleton.names.get(j), (float) inv.applyX(x, y), (float) inv.applyY(x, y),
                    scores[j]));
        }
        return new PoseResult(keypoints, skeleton, region);
    }

    public PoseResult decode(float[] heatmaps, CenterScale region) {
        return decode(FloatBuffer.wrap(heatmaps), region);
    }
}
