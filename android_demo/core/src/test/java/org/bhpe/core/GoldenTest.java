package org.bhpe.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.Assume;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * Golden files from the Python pipeline on a real converted model and a real COCO image, written by
 * {@code tests/test_android_core.py} into the directory given as {@code -Dbhpe.golden=DIR} (or env
 * {@code BHPE_GOLDEN}). Skipped without it unless {@code -Dbhpe.golden.required=1}.
 *
 * <p>Layout: {@code golden.json} (index), the model card and its .tflite, the decoded image as raw RGB,
 * and per case the uint8 input tensor, the LCE interpreter's heatmaps, and the Python-decoded keypoints,
 * all raw little-endian.
 */
public class GoldenTest {
    private static Path dir;
    private static Map<String, Object> index;

    @BeforeClass
    public static void locate() throws Exception {
        String golden = System.getProperty("bhpe.golden", "");
        if (golden.isEmpty()) {
            golden = System.getenv().getOrDefault("BHPE_GOLDEN", "");
        }
        boolean required = "1".equals(System.getProperty("bhpe.golden.required", "0"));
        if (golden.isEmpty()) {
            if (required) fail("golden directory required but not given (-Dbhpe.golden=DIR)");
            return;
        }
        dir = Paths.get(golden);
        if (!Files.isRegularFile(dir.resolve("golden.json"))) {
            fail("no golden.json in " + dir);
        }
        index = TestJson.parseMutable(new String(Files.readAllBytes(dir.resolve("golden.json")), StandardCharsets.UTF_8));
    }

    private static void assumeGolden() {
        Assume.assumeTrue("no golden directory (-Dbhpe.golden=DIR)", dir != null);
    }

    private static byte[] bytes(String name) throws IOException {
        return Files.readAllBytes(dir.resolve(name));
    }

    private static float[] floats(String name) throws IOException {
        FloatBuffer fb = ByteBuffer.wrap(bytes(name)).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        float[] out = new float[fb.remaining()];
        fb.get(out);
        return out;
    }

    private static double num(Object v) {
        return ((Number) v).doubleValue();
    }

    private static int[] ints(Object list) {
        List<?> l = (List<?>) list;
        int[] out = new int[l.size()];
        for (int i = 0; i < out.length; i++) out[i] = (int) (long) (Long) l.get(i);
        return out;
    }

    private static ModelCard card() throws IOException {
        try (InputStream in = Files.newInputStream(dir.resolve((String) index.get("card")))) {
            return ModelCard.read(in);
        }
    }

    private static RgbImage image() throws IOException {
        Map<String, Object> img = TestJson.obj(index, "image");
        return RgbImage.fromRgb(bytes((String) img.get("file")), (int) num(img.get("width")), (int) num(img.get("height")));
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> cases() {
        return (List<Map<String, Object>>) (List<?>) TestJson.list(index, "cases");
    }

    @Test
    public void converterCardIsReadAndMatchesTheFlatbuffer() throws Exception {
        assumeGolden();
        ModelCard card = card();
        assertEquals(ModelCard.cardFileFor(card.tfliteFile), index.get("card"));
        card.verifyModel(bytes(card.tfliteFile));
        assertTrue(card.isKeypointModel());
        assertEquals("bihrnet", card.model);
        // the interpreter's real tensor shapes (recorded by Python from the LCE interpreter) match the card
        Map<String, Object> interp = TestJson.obj(index, "interpreter");
        List<?> outs = (List<?>) interp.get("output_shapes");
        int[][] outShapes = new int[outs.size()][];
        for (int i = 0; i < outShapes.length; i++) outShapes[i] = ints(outs.get(i));
        card.checkInterpreter(1, ints(interp.get("input_shape")), outShapes.length, outShapes);
        // a flatbuffer with another input size is refused with a typed error
        int[] other = ints(interp.get("input_shape"));
        other[1] += 32;
        try {
            card.checkInputShape(other);
            fail("mismatched input shape accepted");
        } catch (InputShapeException expected) {
            assertArrayEquals(card.input.shape(), expected.expected());
        }
        // a changed flatbuffer is refused
        byte[] model = bytes(card.tfliteFile);
        model[model.length / 2] ^= 1;
        try {
            card.verifyModel(model);
            fail("modified flatbuffer accepted");
        } catch (ModelCardException expected) {
            assertEquals("sha256", expected.field());
        }
    }

    @Test
    public void cardsPythonRejectsAreRejectedForTheSameField() throws Exception {
        assumeGolden();
        List<Object> bad = TestJson.list(index, "bad_cards");
        assertTrue("no bad cards in golden.json", bad.size() > 5);
        for (Object o : bad) {
            @SuppressWarnings("unchecked")
            Map<String, Object> entry = (Map<String, Object>) o;
            String text = new String(bytes((String) entry.get("file")), StandardCharsets.UTF_8);
            try {
                ModelCard.parse(text);
                fail(entry.get("file") + ": accepted; Python said: " + entry.get("python_error"));
            } catch (ModelCardException e) {
                assertEquals(entry.get("file") + ": " + e.getMessage() + " / Python: " + entry.get("python_error"),
                        entry.get("field"), e.field());
            }
        }
    }

    @Test
    public void builtInSkeletonsMatchTheProject() throws Exception {
        assumeGolden();
        Map<String, Object> kp = TestJson.parseMutable(new String(bytes((String) index.get("keypoints_json")),
                StandardCharsets.UTF_8));
        for (Skeleton s : new Skeleton[] {Skeleton.COCO_17, Skeleton.MPII_16}) {
            Map<String, Object> ds = TestJson.obj(kp, s.dataset);
            assertEquals(ds.get("keypoint_names"), s.names);
            List<Object> edges = TestJson.list(ds, "skeleton");
            assertEquals(edges.size(), s.edges().length);
            for (int i = 0; i < edges.size(); i++) assertArrayEquals(ints(edges.get(i)), s.edges()[i]);
            int[][] flips = s == Skeleton.COCO_17 ? Skeleton.COCO_FLIP_PAIRS : Skeleton.MPII_FLIP_PAIRS;
            List<Object> pyFlips = TestJson.list(ds, "flip_pairs");
            assertEquals(pyFlips.size(), flips.length);
            for (int i = 0; i < flips.length; i++) assertArrayEquals(ints(pyFlips.get(i)), flips[i]);
        }
    }

    @Test
    public void preprocessingAndDecodingReproducePython() throws Exception {
        assumeGolden();
        ModelCard card = card();
        RgbImage image = image();
        Preprocessor pre = new Preprocessor(card);
        HeatmapDecoder decoder = new HeatmapDecoder(card);
        int maxU8 = 0;
        long diffPixels = 0;
        double maxPx = 0, maxHmPx = 0, maxScore = 0, maxF32 = 0;
        List<String> lines = new ArrayList<>();
        for (Map<String, Object> c : cases()) {
            String name = (String) c.get("name");
            List<?> box = (List<?>) c.get("box");
            CenterScale cs = pre.centerScale(num(box.get(0)), num(box.get(1)), num(box.get(2)), num(box.get(3)));
            List<?> center = (List<?>) c.get("center");
            List<?> scale = (List<?>) c.get("scale");
            // float32 geometry is bit-identical to numpy
            assertEquals(name, (float) num(center.get(0)), cs.cx, 0f);
            assertEquals(name, (float) num(center.get(1)), cs.cy, 0f);
            assertEquals(name, (float) num(scale.get(0)), cs.width, 0f);
            assertEquals(name, (float) num(scale.get(1)), cs.height, 0f);
            Affine m = cs.transform(card.input.width(), card.input.height(), false);
            List<?> pyM = (List<?>) c.get("crop_matrix");
            double[] jm = m.toArray();
            for (int i = 0; i < 6; i++) {
                assertEquals(name + " crop matrix", num(pyM.get(i)), jm[i], 1e-9 * Math.max(1, Math.abs(jm[i])));
            }

            PreparedInput in = pre.prepare(image, cs);
            byte[] expected = bytes((String) c.get("input"));
            byte[] actual = in.cropRgb();
            assertEquals(name, expected.length, actual.length);
            for (int i = 0; i < expected.length; i++) {
                int d = Math.abs((expected[i] & 0xff) - (actual[i] & 0xff));
                if (d > 0) diffPixels++;
                maxU8 = Math.max(maxU8, d);
            }
            if (card.input.isUint8()) {
                byte[] tensor = new byte[in.tensor.remaining()];
                in.tensor.duplicate().get(tensor);
                assertArrayEquals(name + ": uint8 tensor is the crop", actual, tensor);
            } else if (c.get("input_f32") != null) {
                float[] pyTensor = floats((String) c.get("input_f32"));
                FloatBuffer jt = in.tensor.duplicate().order(ByteOrder.nativeOrder()).asFloatBuffer();
                for (int i = 0; i < pyTensor.length; i++) maxF32 = Math.max(maxF32, Math.abs(pyTensor[i] - jt.get(i)));
            }

            // the same frame arriving from the camera as padded RGBA must give the same crop
            int rowStride = image.width * 4 + 64;
            ByteBuffer plane = ByteBuffer.allocateDirect(rowStride * image.height);
            byte[] rgb = image.toRgb();
            for (int y = 0; y < image.height; y++) {
                for (int x = 0; x < image.width; x++) {
                    int s = (y * image.width + x) * 3, d = y * rowStride + 4 * x;
                    plane.put(d, rgb[s]).put(d + 1, rgb[s + 1]).put(d + 2, rgb[s + 2]).put(d + 3, (byte) 255);
                }
            }
            RgbImage frame = RgbImage.fromCameraFrame(RgbImage.FORMAT_RGBA_8888, new ByteBuffer[] {plane},
                    new int[] {rowStride}, new int[] {4}, image.width, image.height, 0);
            assertArrayEquals(name + ": camera path", actual, pre.prepare(frame, cs).cropRgb());

            // decoding of the interpreter's heatmaps
            int[] hs = ints(c.get("heatmaps_shape"));
            assertArrayEquals(card.outputOfKind("heatmaps").shape(), hs);
            float[] hm = floats((String) c.get("heatmaps"));
            float[] coords = new float[2 * hs[3]];
            float[] scores = new float[hs[3]];
            HeatmapDecoder.decodeHeatmapCoords(hm, hs[1], hs[2], hs[3], coords, scores);
            float[] pyCoords = floats((String) c.get("coords"));
            for (int i = 0; i < pyCoords.length; i++) maxHmPx = Math.max(maxHmPx, Math.abs(pyCoords[i] - coords[i]));
            PoseResult pose = decoder.decode(hm, cs);
            float[] pyKp = floats((String) c.get("keypoints"));
            float[] pyScores = floats((String) c.get("scores"));
            assertEquals(pyScores.length, pose.keypoints.size());
            for (int j = 0; j < pose.keypoints.size(); j++) {
                Keypoint k = pose.keypoints.get(j);
                maxPx = Math.max(maxPx, Math.max(Math.abs(k.x - pyKp[2 * j]), Math.abs(k.y - pyKp[2 * j + 1])));
                maxScore = Math.max(maxScore, Math.abs(k.score - pyScores[j]));
            }
            lines.add(name);
        }
        System.out.println(String.format(Locale.ROOT,
                "GOLDEN cases=%d max_u8_diff=%d u8_diff_values=%d max_f32_diff=%.3e max_heatmap_px_err=%.3e "
                        + "max_px_err=%.3e max_score_err=%.3e", lines.size(), maxU8, diffPixels, maxF32, maxHmPx, maxPx,
                maxScore));
        assertTrue("no cases", !lines.isEmpty());
        assertTrue("crop differs from Python by " + maxU8 + " uint8 steps", maxU8 <= 1);
        assertTrue("float tensor differs by " + maxF32, maxF32 <= 1.0 / 255.0 / 0.2 + 1e-4);
        assertTrue("heatmap coords differ by " + maxHmPx, maxHmPx <= 1e-3);
        assertTrue("keypoints differ from Python by " + maxPx + " px", maxPx <= 1e-3);
        assertEquals("scores", 0.0, maxScore, 0.0);
        assertNotNull(card.keypoints);
    }
}
