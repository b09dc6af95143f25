package org.bhpe.core;

/**
 * A whole-body mesh result for the overlay: 2D landmarks in image pixels (from a {@code joints_2d}
 * output) and projected mesh vertices in image pixels (from a {@code vertices} output), either of which
 * may be empty when the model has no such output. Arrays are packed {@code [x0, y0, x1, y1, ...]}.
 */
public final class MeshResult {
    private final float[] landmarks;
    private final float[] projectedVertices;
    private final float[] vertices;
    public final CenterScale region;

    public MeshResult(float[] landmarks, float[] projectedVertices, float[] vertices, CenterScale region) {
        this.landmarks = landmarks;
        this.projectedVertices = projectedVertices;
        this.vertices = vertices;
        this.region = region;
    }

    /** 2D landmarks in image pixels, packed x, y. */
    public float[] landmarks() { return landmarks.clone(); }
    public int landmarkCount() { return landmarks.length / 2; }
    /** Vertices projected to image pixels, packed x, y (NaN for vertices behind the camera). */
    public float[] projectedVertices() { return projectedVertices.clone(); }
    public int vertexCount() { return vertices.length / 3; }
    /** The raw 3D vertices as the model output them, packed x, y, z. */
    public float[] vertices() { return vertices.clone(); }
}
