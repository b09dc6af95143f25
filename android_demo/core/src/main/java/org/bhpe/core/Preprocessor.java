package org.bhpe.core;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Top-down crop of one person into the model's input tensor, as the Python pipeline does it
 * ({@code bhpe_tf.data.transforms}): box -> {@link CenterScale} (card's {@code aspect_ratio} and
 * {@code padding}) -> HRNet affine ({@link CenterScale#transform}) -> {@code cv2.warpAffine} with
 * {@code INTER_LINEAR} (or {@code INTER_NEAREST} when the card says so), {@code BORDER_CONSTANT} 0.
 *
 * <p>The warp reproduces OpenCV's fixed-point arithmetic: the matrix is inverted in double, source
 * coordinates are computed in 1/1024 steps ({@code AB_BITS = 10}), reduced to 1/32 sub-pixel steps
 * ({@code INTER_BITS = 5}), and the four taps are weighted with 15-bit integer weights
 * ({@code INTER_REMAP_COEF_BITS}) and rounded, so the crop equals OpenCV's byte for byte.
 *
 * <p>For a {@code uint8} card the tensor is the crop's RGB bytes (normalisation is in the graph); for
 * {@code float32} it is {@code ((x * scale) - mean) / std} per channel. Not thread-safe: the tensor
 * buffer is reused between calls.
 */
public final class Preprocessor {
    private static final int INTER_BITS = 5;
    private static final int INTER_TAB_SIZE = 1 << INTER_BITS;
    private static final int AB_BITS = 10;
    private static final int AB_SCALE = 1 << AB_BITS;
    private static final int COEF_BITS = 15;

    private final ModelCard card;
    private final ByteBuffer tensor;
    private final float[] mul = new float[3];
    private final float[] add = new float[3];
    private final float[] std = new float[3];

    public Preprocessor(ModelCard card) {
        this.card = card;
        this.tensor = ByteBuffer.allocateDirect(card.input.byteSize()).order(ByteOrder.nativeOrder());
        double[] mean = card.input.mean();
        double[] std = card.input.std();
        for (int c = 0; c < 3; c++) {
            // ((x * scale) - mean) / std, evaluated as in numpy float32 by normalize()
            mul[c] = (float) card.input.normScale;
            add[c] = (float) mean[c];
            this.std[c] = (float) std[c];
        }
    }

    /** The crop region for a person box {@code (x, y, w, h)} with the card's aspect ratio and padding. */
    public CenterScale centerScale(double x, double y, double w, double h) {
        return CenterScale.fromBox(x, y, w, h, card.input.aspectRatio, card.input.padding);
    }

    /** The whole image as the person box. */
    public CenterScale wholeImage(RgbImage image) {
        return CenterScale.wholeImage(image.width, image.height, card.input.aspectRatio, card.input.padding);
    }

    /** A centred box of {@code fraction} of the image height (see {@link CenterScale#centreBox}). */
    public CenterScale centreBox(RgbImage image, double fraction) {
        return CenterScale.centreBox(image.width, image.height, fraction, card.input.aspectRatio, card.input.padding);
    }

    /** Crop {@code image} at {@code region} and fill the input tensor. */
    public PreparedInput prepare(RgbImage image, CenterScale region) {
        int w = card.input.width(), h = card.input.height();
        Affine toCrop = region.transform(w, h, false);
        byte[] crop = "nearest".equals(card.input.interpolation)
                ? warpAffineNearest(image.pixels(), image.width, image.height, 3, toCrop, w, h)
                : warpAffineBilinear(image.pixels(), image.width, image.height, 3, toCrop, w, h);
        tensor.clear();
        if (card.input.isUint8()) {
            tensor.put(crop);
        } else {
            for (int i = 0; i < crop.length; i++) {
                tensor.putFloat(normalize(crop[i] & 0xff, i % 3));
            }
        }
        tensor.rewind();
        return new PreparedInput(crop, tensor, region, toCrop, w, h);
    }

    /** {@code ((x * scale) - mean) / std} for channel {@code c}, in float32 like numpy. */
    public float normalize(int value, int c) {
        return ((float) value * mul[c] - add[c]) / std[c];
    }

    // ------------------------------------------------------------------ cv2.warpAffine

    /** Inverse map (output -> source) the way {@code cv2.warpAffine} computes it without WARP_INVERSE_MAP. */
    private static double[] inverseForWarp(Affine m) {
        double[] M = m.toArray();
        double d = M[0] * M[4] - M[1] * M[3];
        d = d != 0 ? 1.0 / d : 0;
        double a11 = M[4] * d, a22 = M[0] * d;
        M[0] = a11;
        M[1] *= -d;
        M[3] *= -d;
        M[4] = a22;
        double b1 = -M[0] * M[2] - M[1] * M[5];
        double b2 = -M[3] * M[2] - M[4] * M[5];
        M[2] = b1;
        M[5] = b2;
        return M;
    }

    /** OpenCV's {@code saturate_cast<int>(double)}: round half to even, saturate. */
    private static int roundSat(double v) {
        double r = Math.rint(v);
        if (r >= Integer.MAX_VALUE) return Integer.MAX_VALUE;
        if (r <= Integer.MIN_VALUE) return Integer.MIN_VALUE;
        return (int) r;
    }

    /** OpenCV's {@code saturate_cast<short>(int)}. */
    private static int satShort(int v) {
        return Math.max(Short.MIN_VALUE, Math.min(Short.MAX_VALUE, v));
    }

    /**
     * {@code cv2.warpAffine(src, M, (outW, outH), flags=INTER_LINEAR, borderMode=BORDER_CONSTANT,
     * borderValue=0)} on packed 8-bit pixels with {@code channels} channels; {@code imageToOut} is the
     * forward matrix {@code M}.
     */
    public static byte[] warpAffineBilinear(byte[] src, int srcW, int srcH, int channels, Affine imageToOut,
                                            int outW, int outH) {
        double[] M = inverseForWarp(imageToOut);
        int[] adelta = new int[outW], bdelta = new int[outW];
        for (int x = 0; x < outW; x++) {
            adelta[x] = roundSat(M[0] * x * AB_SCALE);
            bdelta[x] = roundSat(M[3] * x * AB_SCALE);
        }
        int roundDelta = AB_SCALE / INTER_TAB_SIZE / 2;
        byte[] out = new byte[outW * outH * channels];
        int rowStep = srcW * channels;
        for (int y = 0; y < outH; y++) {
            int x0 = roundSat((M[1] * y + M[2]) * AB_SCALE) + roundDelta;
            int y0 = roundSat((M[4] * y + M[5]) * AB_SCALE) + roundDelta;
            for (int x = 0; x < outW; x++) {
                int X = (x0 + adelta[x]) >> (AB_BITS - INTER_BITS);
                int Y = (y0 + bdelta[x]) >> (AB_BITS - INTER_BITS);
                int sx = satShort(X >> INTER_BITS);
                int sy = satShort(Y >> INTER_BITS);
                int fx = X & (INTER_TAB_SIZE - 1);
                int fy = Y & (INTER_TAB_SIZE - 1);
                // initInterTab2D: (1 - a)(1 - b) * 2^15 is exact for a, b in 1/32 steps
                int w00 = (INTER_TAB_SIZE - fy) * (INTER_TAB_SIZE - fx) * 32;
                int w01 = (INTER_TAB_SIZE - fy) * fx * 32;
                int w10 = fy * (INTER_TAB_SIZE - fx) * 32;
                int w11 = fy * fx * 32;
                int o = (y * outW + x) * channels;
                if (sx >= srcW || sx + 1 < 0 || sy >= srcH || sy + 1 < 0) {
                    continue;  // entirely outside: border value 0 (already 0)
                }
                boolean x0in = sx >= 0, x1in = sx + 1 < srcW, y0in = sy >= 0, y1in = sy + 1 < srcH;
                int p00 = sy * rowStep + sx * channels;
                for (int c = 0; c < channels; c++) {
                    int v00 = x0in && y0in ? src[p00 + c] & 0xff : 0;
                    int v01 = x1in && y0in ? src[p00 + channels + c] & 0xff : 0;
                    int v10 = x0in && y1in ? src[p00 + rowStep + c] & 0xff : 0;
                    int v11 = x1in && y1in ? src[p00 + rowStep + channels + c] & 0xff : 0;
                    int sum = v00 * w00 + v01 * w01 + v10 * w10 + v11 * w11;
                    int v = (sum + (1 << (COEF_BITS - 1))) >> COEF_BITS;
                    out[o + c] = (byte) Math.max(0, Math.min(255, v));
                }
            }
        }
        return out;
    }

    /** {@code cv2.warpAffine} with {@code INTER_NEAREST}, {@code BORDER_CONSTANT} 0. */
    public static byte[] warpAffineNearest(byte[] src, int srcW, int srcH, int channels, Affine imageToOut,
                                           int outW, int outH) {
        double[] M = inverseForWarp(imageToOut);
        int[] adelta = new int[outW], bdelta = new int[outW];
        for (int x = 0; x < outW; x++) {
            adelta[x] = roundSat(M[0] * x * AB_SCALE);
            bdelta[x] = roundSat(M[3] * x * AB_SCALE);
        }
        int roundDelta = AB_SCALE / 2;
        byte[] out = new byte[outW * outH * channels];
        for (int y = 0; y < outH; y++) {
            int x0 = roundSat((M[1] * y + M[2]) * AB_SCALE) + roundDelta;
            int y0 = roundSat((M[4] * y + M[5]) * AB_SCALE) + roundDelta;
            for (int x = 0; x < outW; x++) {
                int sx = satShort((x0 + adelta[x]) >> AB_BITS);
                int sy = satShort((y0 + bdelta[x]) >> AB_BITS);
                if (sx < 0 || sy < 0 || sx >= srcW || sy >= srcH) {
                    continue;
                }
                System.arraycopy(src, (sy * srcW + sx) * channels, out, (y * outW + x) * channels, channels);
            }
        }
        return out;
    }
}
