package org.bhpe.core;

/** One decoded keypoint in image pixels with its confidence (the heatmap maximum). */
public final class Keypoint {
    public final String name;
    public final float x;
    public final float y;
    public final float score;

    public Keypoint(String name, float x, float y, float score) {
        this.name = name;
        this.x = x;
        this.y = y;
        this.score = score;
    }

    @Override
    public String toString() {
        return String.format("%s(%.2f, %.2f; %.3f)", name, x, y, score);
    }
}
