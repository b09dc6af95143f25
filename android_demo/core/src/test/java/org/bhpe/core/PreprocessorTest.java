package org.bhpe.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;
import java.util.Random;
import org.junit.Test;

public class PreprocessorTest {
    private static RgbImage randomImage(int w, int h, long seed) {
        byte[] rgb = new byte[w * h * 3];
        new Random(seed).nextBytes(rgb);
        return RgbImage.fromRgb(rgb, w, h);
    }

    @Test
    public void boxToCenterScaleLikeHrnet() {
        // wide box: height grows to w / 0.75; then x 1.25
        CenterScale cs = CenterScale.fromBox(10, 20, 90, 60, 0.75, 1.25);
        assertEquals(55f, cs.cx, 0f);
        assertEquals(50f, cs.cy, 0f);
        assertEquals(112.5f, cs.width, 1e-4f);
        assertEquals(150f, cs.height, 1e-4f);
        // tall box: width grows to 0.75 h
        cs = CenterScale.fromBox(0, 0, 30, 200, 0.75, 1.25);
        assertEquals(187.5f, cs.width, 1e-4f);
        assertEquals(250f, cs.height, 1e-4f);
    }

    @Test
    public void cropTransformMapsRegionOntoOutput() {
        CenterScale cs = new CenterScale(100f, 80f, 120f, 160f);
        Affine m = cs.transform(48, 64, false);
        assertEquals(24.0, m.applyX(100, 80), 1e-9);
        assertEquals(32.0, m.applyY(100, 80), 1e-9);
        assertEquals(0.0, m.applyX(40, 0), 1e-9);    // left edge of the region
        assertEquals(0.0, m.applyY(40, 0), 1e-9);    // top edge
        assertEquals(0.4, m.m00, 1e-12);
        assertEquals(0.0, m.m01, 1e-12);
        Affine inv = cs.transform(48, 64, true);
        Affine inv2 = m.invert();
        for (double[] p : new double[][] {{0, 0}, {47, 63}, {10.25, 3.75}}) {
            assertEquals(inv2.applyX(p[0], p[1]), inv.applyX(p[0], p[1]), 1e-9);
            assertEquals(inv2.applyY(p[0], p[1]), inv.applyY(p[0], p[1]), 1e-9);
        }
    }

    @Test
    public void identityWarpCopiesTheImage() {
        RgbImage img = randomImage(17, 11, 1);
        byte[] out = Preprocessor.warpAffineBilinear(img.toRgb(), 17, 11, 3, Affine.identity(), 17, 11);
        assertArrayEquals(img.toRgb(), out);
        out = Preprocessor.warpAffineNearest(img.toRgb(), 17, 11, 3, Affine.identity(), 17, 11);
        assertArrayEquals(img.toRgb(), out);
    }

    @Test
    public void halfPixelShiftAveragesWithOpenCvRounding() {
        byte[] src = {10, 0, 0, 21, 0, 0, (byte) 200, 0, 0};  // 3x1, red 10, 21, 200
        byte[] out = Preprocessor.warpAffineBilinear(src, 3, 1, 3, new Affine(1, 0, -0.5, 0, 1, 0), 3, 1);
        // dst x samples src x + 0.5: (10 + 21) / 2 = 15.5 -> 16, (21 + 200) / 2 = 110.5 -> 111, (200 + 0) / 2 -> 100
        assertEquals(16, out[0] & 0xff);
        assertEquals(111, out[3] & 0xff);
        assertEquals(100, out[6] & 0xff);
    }

    @Test
    public void outsideTheImageIsBlack() {
        RgbImage img = randomImage(8, 8, 2);
        byte[] out = Preprocessor.warpAffineBilinear(img.toRgb(), 8, 8, 3, new Affine(1, 0, 100, 0, 1, 0), 4, 4);
        for (byte b : out) assertEquals(0, b);
    }

    @Test
    public void prepareFillsUint8AndFloatTensors() {
        Map<String, Object> c = TestJson.parseMutable(TestJson.validKeypointCard());
        ModelCard u8 = ModelCard.parse(TestJson.write(c));
        RgbImage img = randomImage(64, 48, 3);
        Preprocessor pre = new Preprocessor(u8);
        PreparedInput in = pre.prepare(img, pre.wholeImage(img));
        assertEquals(256 * 192 * 3, in.tensor.remaining());
        byte[] crop = in.cropRgb();
        assertEquals(crop[1000], in.tensor.get(1000));

        TestJson.obj(c, "input").put("dtype", "float32");
        ModelCard f32 = ModelCard.parse(TestJson.write(c));
        Preprocessor fpre = new Preprocessor(f32);
        PreparedInput fin = fpre.prepare(img, fpre.wholeImage(img));
        assertEquals(ByteOrder.nativeOrder(), fin.tensor.order());
        assertEquals(256 * 192 * 3 * 4, fin.tensor.remaining());
        for (int i : new int[] {0, 1, 2, 5000, 100001}) {
            int x = crop[i] & 0xff;
            double[] mean = {0.485, 0.456, 0.406};
            double[] std = {0.229, 0.224, 0.225};
            double expected = (x / 255.0 - mean[i % 3]) / std[i % 3];
            assertEquals(expected, fin.tensor.getFloat(4 * i), 1e-5);
        }
    }

    @Test
    public void centreBoxIsCentred() {
        CenterScale cs = CenterScale.centreBox(640, 480, 0.9, 0.75, 1.25);
        assertEquals(320f, cs.cx, 1e-4f);
        assertEquals(240f, cs.cy, 1e-4f);
        assertEquals(480 * 0.9 * 1.25, cs.height, 1e-3);
    }

    @Test
    public void argbAndRgbaFramesGiveTheSamePixels() {
        int w = 5, h = 3, rowStride = 24;  // padded rows
        int[] argb = new int[w * h];
        ByteBuffer plane = ByteBuffer.allocateDirect(rowStride * h);
        Random r = new Random(4);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int red = r.nextInt(256), green = r.nextInt(256), blue = r.nextInt(256);
                argb[y * w + x] = 0xff000000 | red << 16 | green << 8 | blue;
                plane.put(y * rowStride + 4 * x, (byte) red).put(y * rowStride + 4 * x + 1, (byte) green)
                        .put(y * rowStride + 4 * x + 2, (byte) blue).put(y * rowStride + 4 * x + 3, (byte) 255);
            }
        }
        RgbImage a = RgbImage.fromArgb(argb, w, h);
        RgbImage b = RgbImage.fromCameraFrame(RgbImage.FORMAT_RGBA_8888, new ByteBuffer[] {plane}, new int[] {rowStride},
                new int[] {4}, w, h, 0);
        assertArrayEquals(a.toRgb(), b.toRgb());
    }

    @Test
    public void rotationIsClockwise() {
        // 2x1 image: red at x=0, blue at x=1. Rotated 90 clockwise: 1x2, red on top.
        RgbImage img = RgbImage.fromRgb(new byte[] {(byte) 255, 0, 0, 0, 0, (byte) 255}, 2, 1);
        RgbImage r90 = img.rotate(90);
        assertEquals(1, r90.width);
        assertEquals(2, r90.height);
        assertEquals(255, r90.get(0, 0, 0));
        assertEquals(255, r90.get(0, 1, 2));
        RgbImage r270 = img.rotate(270);
        assertEquals(255, r270.get(0, 0, 2));
        assertArrayEquals(img.toRgb(), img.rotate(90).rotate(-90).toRgb());
        assertArrayEquals(img.rotate(180).toRgb(), img.rotate(90).rotate(90).toRgb());
    }

    @Test
    public void badFramesAreTypedErrors() {
        ByteBuffer plane = ByteBuffer.allocate(4 * 4 * 4);
        expectFrameError("YUV_420_888", () -> RgbImage.fromCameraFrame(RgbImage.FORMAT_YUV_420_888,
                new ByteBuffer[] {plane, plane, plane}, new int[] {4, 2, 2}, new int[] {1, 2, 2}, 4, 4, 0));
        expectFrameError("pixel stride", () -> RgbImage.fromRgbaPlane(plane, 4, 4, 16, 3));
        expectFrameError("row stride", () -> RgbImage.fromRgbaPlane(plane, 4, 4, 12, 4));
        expectFrameError("needs", () -> RgbImage.fromRgbaPlane(plane, 4, 5, 16, 4));
        expectFrameError("1 plane", () -> RgbImage.fromCameraFrame(RgbImage.FORMAT_RGBA_8888,
                new ByteBuffer[] {plane, plane}, new int[] {16, 16}, new int[] {4, 4}, 4, 4, 0));
        expectFrameError("multiple of 90", () -> RgbImage.fromCameraFrame(RgbImage.FORMAT_RGBA_8888,
                new ByteBuffer[] {plane}, new int[] {16}, new int[] {4}, 4, 4, 45));
        expectFrameError("expected", () -> RgbImage.fromRgb(new byte[10], 2, 2));
        expectFrameError("positive", () -> RgbImage.fromArgb(new int[0], 0, 2));
    }

    private static void expectFrameError(String fragment, Runnable r) {
        try {
            r.run();
            fail("no FrameFormatException (" + fragment + ")");
        } catch (FrameFormatException e) {
            assertTrue(e.getMessage(), e.getMessage().contains(fragment));
        }
    }
}
