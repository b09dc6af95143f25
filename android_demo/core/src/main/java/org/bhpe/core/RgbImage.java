package org.bhpe.core;

import java.nio.ByteBuffer;

/**
 * An 8-bit RGB image, pixels packed row by row ({@code rgb[(y * width + x) * 3 + c]}), the format the
 * preprocessing works on. Factories check the frame they are given and throw
 * {@link FrameFormatException} instead of reading garbage.
 */
public final class RgbImage {
    /** {@code android.graphics.PixelFormat.RGBA_8888}, what CameraX's {@code OUTPUT_IMAGE_FORMAT_RGBA_8888} delivers. */
    public static final int FORMAT_RGBA_8888 = 1;
    /** {@code android.graphics.ImageFormat.YUV_420_888}, CameraX's default analysis format. */
    public static final int FORMAT_YUV_420_888 = 35;

    public final int width;
    public final int height;
    private final byte[] rgb;

    private RgbImage(int width, int height, byte[] rgb) {
        this.width = width;
        this.height = height;
        this.rgb = rgb;
    }

    private static void checkSize(int width, int height) {
        if (width <= 0 || height <= 0) {
            throw new FrameFormatException("frame size must be positive, got " + width + "x" + height);
        }
        if ((long) width * height * 3 > Integer.MAX_VALUE) {
            throw new FrameFormatException("frame " + width + "x" + height + " is too large");
        }
    }

    /** Wrap packed RGB bytes (length {@code width * height * 3}); the array is copied. */
    public static RgbImage fromRgb(byte[] rgb, int width, int height) {
        checkSize(width, height);
        if (rgb.length != width * height * 3) {
            throw new FrameFormatException("RGB buffer has " + rgb.length + " bytes, expected " + width + "*" + height
                    + "*3 = " + (width * height * 3));
        }
        return new RgbImage(width, height, rgb.clone());
    }

    /** From {@code Bitmap.getPixels} ARGB ints (alpha ignored). */
    public static RgbImage fromArgb(int[] argb, int width, int height) {
        checkSize(width, height);
        if (argb.length < width * height) {
            throw new FrameFormatException("ARGB buffer has " + argb.length + " pixels, expected " + (width * height));
        }
        byte[] out = new byte[width * height * 3];
        for (int i = 0, n = width * height; i < n; i++) {
            int p = argb[i];
            out[3 * i] = (byte) (p >> 16);
            out[3 * i + 1] = (byte) (p >> 8);
            out[3 * i + 2] = (byte) p;
        }
        return new RgbImage(width, height, out);
    }

    /**
     * From one RGBA_8888 plane (CameraX {@code ImageProxy.getPlanes()[0]}): {@code rowStride} bytes per
     * row (rows may be padded), {@code pixelStride} must be 4.
     */
    public static RgbImage fromRgbaPlane(ByteBuffer plane, int width, int height, int rowStride, int pixelStride) {
        checkSize(width, height);
        if (pixelStride != 4) {
            throw new FrameFormatException("RGBA_8888 plane must have pixel stride 4, got " + pixelStride);
        }
        if (rowStride < width * 4) {
            throw new FrameFormatException("row stride " + rowStride + " is smaller than width*4 = " + (width * 4));
        }
        ByteBuffer buf = plane.duplicate();
        buf.rewind();
        long needed = (long) rowStride * (height - 1) + (long) width * 4;
        if (buf.remaining() < needed) {
            throw new FrameFormatException("RGBA plane has " + buf.remaining() + " bytes, a " + width + "x" + height
                    + " frame with row stride " + rowStride + " needs " + needed);
        }
        byte[] out = new byte[width * height * 3];
        byte[] row = new byte[width * 4];
        for (int y = 0; y < height; y++) {
            buf.position(y * rowStride);
            buf.get(row, 0, width * 4);
            int o = y * width * 3;
            for (int x = 0; x < width; x++) {
                out[o + 3 * x] = row[4 * x];
                out[o + 3 * x + 1] = row[4 * x + 1];
                out[o + 3 * x + 2] = row[4 * x + 2];
            }
        }
        return new RgbImage(width, height, out);
    }

    /**
     * A camera frame as delivered by CameraX {@code ImageAnalysis}: only RGBA_8888 with one plane is
     * accepted (the app requests {@code OUTPUT_IMAGE_FORMAT_RGBA_8888}); anything else is a
     * {@link FrameFormatException} with a message saying what arrived. The result is rotated upright
     * by {@code rotationDegrees} (CameraX's {@code imageInfo.rotationDegrees}, clockwise).
     */
    public static RgbImage fromCameraFrame(int format, ByteBuffer[] planes, int[] rowStrides, int[] pixelStrides,
                                           int width, int height, int rotationDegrees) {
        if (format != FORMAT_RGBA_8888) {
            String name = format == FORMAT_YUV_420_888 ? "YUV_420_888" : "format " + format;
            throw new FrameFormatException("unexpected camera frame format " + name + " (" + format
                    + "); the analyzer needs RGBA_8888 (ImageAnalysis.OUTPUT_IMAGE_FORMAT_RGBA_8888, CameraX >= 1.1)");
        }
        if (planes == null || planes.length != 1 || rowStrides.length != 1 || pixelStrides.length != 1) {
            throw new FrameFormatException("RGBA_8888 frame must have exactly 1 plane, got "
                    + (planes == null ? 0 : planes.length));
        }
        return fromRgbaPlane(planes[0], width, height, rowStrides[0], pixelStrides[0]).rotate(rotationDegrees);
    }

    /** Rotate clockwise by a multiple of 90 degrees (negative values turn counter-clockwise). */
    public RgbImage rotate(int degrees) {
        if (degrees % 90 != 0) {
            throw new FrameFormatException("rotation must be a multiple of 90 degrees, got " + degrees);
        }
        int turns = ((degrees / 90) % 4 + 4) % 4;
        if (turns == 0) {
            return this;
        }
        int w = width, h = height;
        int ow = turns == 2 ? w : h, oh = turns == 2 ? h : w;
        byte[] out = new byte[rgb.length];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int nx, ny;
                if (turns == 1) {          // clockwise 90: (x, y) -> (h - 1 - y, x)
                    nx = h - 1 - y;
                    ny = x;
                } else if (turns == 2) {
                    nx = w - 1 - x;
                    ny = h - 1 - y;
                } else {                   // 270: (x, y) -> (y, w - 1 - x)
                    nx = y;
                    ny = w - 1 - x;
                }
                int s = (y * w + x) * 3, d = (ny * ow + nx) * 3;
                out[d] = rgb[s];
                out[d + 1] = rgb[s + 1];
                out[d + 2] = rgb[s + 2];
            }
        }
        return new RgbImage(ow, oh, out);
    }

    /** The packed RGB bytes (a copy). */
    public byte[] toRgb() {
        return rgb.clone();
    }

    /** The packed RGB bytes without copying; callers must not modify them. */
    byte[] pixels() {
        return rgb;
    }

    public int get(int x, int y, int channel) {
        return rgb[(y * width + x) * 3 + channel] & 0xff;
    }
}
