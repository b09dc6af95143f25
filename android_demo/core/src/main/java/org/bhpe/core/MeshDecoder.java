package org.bhpe.core;

import java.nio.FloatBuffer;
import java.util.Arrays;

/**
 * Outputs of a {@code smplx_mesh} card (BinaryHPE) -> a {@link MeshResult} for the landmark / wireframe
 * overlay. Decisions (the card's schema leaves the coordinate frames open, so they are fixed here):
 * <ul>
 * <li>{@code joints_2d} {@code [1, J, 2]} are in pixels of the model's input crop ({@code W x H});
 * they go to the image through the inverse crop affine.</li>
 * <li>{@code vertices} {@code [1, N, 3]} are camera-space metres of Hand4Whole's virtual camera: focal
 * 5000 px and principal point at the centre of a 256x192 (H x W) body input. They are projected with
 * that camera, rescaled to the card's input size, then mapped like the joints. Vertices with
 * {@code z <= 0} (a root-relative mesh) get NaN and are not drawn.</li>
 * </ul>
 */
public final class MeshDecoder {
    public static final double VIRTUAL_FOCAL = 5000.0;
    public static final int VIRTUAL_HEIGHT = 256;
    public static final int VIRTUAL_WIDTH = 192;

    private final ModelCard card;
    private final ModelCard.Output joints;
    private final ModelCard.Output vertices;

    public MeshDecoder(ModelCard card) {
        if (!card.isMeshModel()) {
            throw new ModelCardException("task", "mesh decoding needs a smplx_mesh card, got task " + card.task);
        }
        this.card = card;
        this.joints = card.outputOfKind("joints_2d");
        this.vertices = card.outputOfKind("vertices");
        if (joints == null && vertices == null) {
            throw new ModelCardException("outputs", "a smplx_mesh model needs a 'joints_2d' or a 'vertices' output to draw");
        }
        checkPoints(joints, 2);
        checkPoints(vertices, 3);
    }

    private static void checkPoints(ModelCard.Output out, int dims) {
        if (out == null) return;
        int[] s = out.shape();
        if (s.length != 3 || s[0] != 1 || s[2] != dims) {
            throw new ModelCardException("outputs[" + out.index + "].shape", "a " + out.kind + " output must be [1, N, "
                    + dims + "], got " + Arrays.toString(s));
        }
    }

    /** Interpreter output index of {@code joints_2d}, or -1. */
    public int jointsIndex() { return joints == null ? -1 : joints.index; }
    /** Interpreter output index of {@code vertices}, or -1. */
    public int verticesIndex() { return vertices == null ? -1 : vertices.index; }

    /**
     * @param joints2d the {@code joints_2d} output (or {@code null})
     * @param verts    the {@code vertices} output (or {@code null})
     * @param vertexStep draw every {@code vertexStep}-th vertex (1 = all)
     */
    public MeshResult decode(FloatBuffer joints2d, FloatBuffer verts, CenterScale region, int vertexStep) {
        Affine inv = region.transform(card.input.width(), card.input.height(), true);
        float[] landmarks = new float[0];
        if (joints != null && joints2d != null) {
            int n = joints.shape()[1];
            require(joints2d, n * 2, "joints_2d");
            landmarks = new float[2 * n];
            int b = joints2d.position();
            for (int i = 0; i < n; i++) {
                double x = joints2d.get(b + 2 * i), y = joints2d.get(b + 2 * i + 1);
                landmarks[2 * i] = (float) inv.applyX(x, y);
                landmarks[2 * i + 1] = (float) inv.applyY(x, y);
            }
        }
        float[] raw = new float[0];
        float[] projected = new float[0];
        if (vertices != null && verts != null) {
            int n = vertices.shape()[1];
            require(verts, n * 3, "vertices");
            int step = Math.max(1, vertexStep);
            int kept = (n + step - 1) / step;
            raw = new float[3 * kept];
            projected = new float[2 * kept];
            double sx = card.input.width() / (double) VIRTUAL_WIDTH;
            double sy = card.input.height() / (double) VIRTUAL_HEIGHT;
            int b = verts.position();
            for (int i = 0, o = 0; i < n; i += step, o++) {
                float x = verts.get(b + 3 * i), y = verts.get(b + 3 * i + 1), z = verts.get(b + 3 * i + 2);
                raw[3 * o] = x;
                raw[3 * o + 1] = y;
                raw[3 * o + 2] = z;
                if (!(z > 0)) {
                    projected[2 * o] = Float.NaN;
                    projected[2 * o + 1] = Float.NaN;
                    continue;
                }
                double u = (VIRTUAL_FOCAL * x / z + VIRTUAL_WIDTH / 2.0) * sx;
                double v = (VIRTUAL_FOCAL * y / z + VIRTUAL_HEIGHT / 2.0) * sy;
                projected[2 * o] = (float) inv.applyX(u, v);
                projected[2 * o + 1] = (float) inv.applyY(u, v);
            }
        }
        return new MeshResult(landmarks, projected, raw, region);
    }

    private static void require(FloatBuffer buf, int n, String what) {
        if (buf.remaining() < n) {
            throw new InputShapeException(what + " buffer has " + buf.remaining() + " floats, expected " + n);
        }
    }
}
