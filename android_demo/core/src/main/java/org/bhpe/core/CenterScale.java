package org.bhpe.core;

/**
 * A top-down crop region: centre and (w, h) size in image pixels (HRNet's {@code center} and
 * {@code scale * 200}), stored as {@code float} like the Python pipeline (numpy float32) so the
 * crop matrix is the same to the last bit.
 */
public final class CenterScale {
    public final float cx, cy, width, height;

    public CenterScale(float cx, float cy, float width, float height) {
        this.cx = cx;
        this.cy = cy;
        this.width = width;
        this.height = height;
    }

    /**
     * {@code bhpe_tf.data.transforms.box_to_center_scale} / HRNet's {@code _box2cs}: the box
     * {@code (x, y, w, h)} is grown to {@code aspectRatio = w / h} around its centre, then multiplied
     * by {@code padding}.
     */
    public static CenterScale fromBox(double x, double y, double w, double h, double aspectRatio, double padding) {
        if (!(w > 0 && h > 0)) {
            throw new IllegalArgumentException("person box must have positive size, got " + w + "x" + h);
        }
        float cx = (float) (x + w * 0.5);
        float cy = (float) (y + h * 0.5);
        if (w > aspectRatio * h) {
            h = w / aspectRatio;
        } else if (w < aspectRatio * h) {
            w = h * aspectRatio;
        }
        float pad = (float) padding;
        return new CenterScale(cx, cy, (float) w * pad, (float) h * pad);
    }

    /** The whole image as the person box. */
    public static CenterScale wholeImage(int imageWidth, int imageHeight, double aspectRatio, double padding) {
        return fromBox(0, 0, imageWidth, imageHeight, aspectRatio, padding);
    }

    /**
     * A centred box covering {@code fraction} of the image height (and the matching width at
     * {@code aspectRatio}, clipped to the image), for a person standing in the middle of the viewfinder.
     */
    public static CenterScale centreBox(int imageWidth, int imageHeight, double fraction, double aspectRatio,
                                        double padding) {
        double h = imageHeight * fraction;
        double w = Math.min(imageWidth * fraction, h * aspectRatio);
        return fromBox((imageWidth - w) / 2.0, (imageHeight - h) / 2.0, w, h, aspectRatio, padding);
    }

    /**
     * {@code bhpe_tf.data.transforms.get_affine_transform} with rotation 0 and no shift (HRNet): three
     * point pairs (centre, the point half a region width above it, and the point perpendicular to both)
     * -> {@code cv2.getAffineTransform}. Only {@code width} sets the zoom, as in HRNet.
     *
     * @param outWidth  output width (crop or heatmap)
     * @param outHeight output height
     * @param inverse   output -> image instead of image -> output
     */
    public Affine transform(int outWidth, int outHeight, boolean inverse) {
        double srcW = width;
        double dstW = outWidth, dstH = outHeight;
        float[][] src = new float[3][2];
        float[][] dst = new float[3][2];
        // rot = 0: src_dir = (0 * cos - y * sin, 0 * sin + y * cos) = (-0.0, y) in float32
        float srcDirX = (float) (-(srcW * -0.5) * 0.0);
        float srcDirY = (float) (srcW * -0.5);
        float dstDirY = (float) (dstW * -0.5);
        src[0][0] = cx;
        src[0][1] = cy;
        src[1][0] = cx + srcDirX;
        src[1][1] = cy + srcDirY;
        dst[0][0] = (float) (dstW * 0.5);
        dst[0][1] = (float) (dstH * 0.5);
        dst[1][0] = dst[0][0] + 0.0f;
        dst[1][1] = dst[0][1] + dstDirY;
        thirdPoint(src);
        thirdPoint(dst);
        return inverse ? Affine.fromPoints(dst, src) : Affine.fromPoints(src, dst);
    }

    /** HRNet's {@code get_3rd_point(a, b) = b + rot90(a - b)}, in float32. */
    private static void thirdPoint(float[][] p) {
        float dx = p[0][0] - p[1][0];
        float dy = p[0][1] - p[1][1];
        p[2][0] = p[1][0] + (-dy);
        p[2][1] = p[1][1] + dx;
    }

    @Override
    public String toString() {
        return "CenterScale(center=(" + cx + ", " + cy + "), size=" + width + "x" + height + ")";
    }
}
