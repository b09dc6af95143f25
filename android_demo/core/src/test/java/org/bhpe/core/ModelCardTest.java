package org.bhpe.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.Test;

public class ModelCardTest {
    private static ModelCardException expectCardError(String expectedField, Consumer<Map<String, Object>> mutate) {
        Map<String, Object> card = TestJson.parseMutable(TestJson.validKeypointCard());
        mutate.accept(card);
        try {
            ModelCard.parse(TestJson.write(card));
        } catch (ModelCardException e) {
            assertEquals(e.getMessage(), expectedField, e.field());
            assertTrue(e.getMessage(), e.getMessage().startsWith("model card: " + expectedField + ": "));
            return e;
        }
        fail("card accepted, expected an error on " + expectedField);
        return null;
    }

    @Test
    public void readsValidCard() throws Exception {
        ModelCard card = ModelCard.read(new ByteArrayInputStream(TestJson.validKeypointCard().getBytes(StandardCharsets.UTF_8)));
        assertEquals("bihrnet", card.model);
        assertEquals("bidrn", card.method);
        assertTrue(card.isKeypointModel());
        assertArrayEquals(new int[] {1, 256, 192, 3}, card.input.shape());
        assertEquals(256, card.input.height());
        assertEquals(192, card.input.width());
        assertTrue(card.input.isUint8());
        assertEquals(256 * 192 * 3, card.input.byteSize());
        assertEquals(1.0 / 255.0, card.input.normScale, 0.0);
        assertArrayEquals(new double[] {0.229, 0.224, 0.225}, card.input.std(), 0.0);
        assertEquals(0.75, card.input.aspectRatio, 0.0);
        assertEquals(1.25, card.input.padding, 0.0);
        assertEquals(4, card.heatmap.stride);
        assertEquals(17, card.keypoints.names.size());
        assertEquals(19, card.keypoints.skeleton().length);
        assertEquals("heatmaps", card.outputOfKind("heatmaps").kind);
        assertNull(card.outputOfKind("vertices"));
        assertEquals(3L, card.census.lceBconv2d);
        assertEquals(0, card.census.floatFallbacks);
        assertEquals("arm", card.converter.target);
        assertFalse(card.converter.int8);
        assertEquals("bihrnet.json", ModelCard.cardFileFor(card.tfliteFile));
        assertTrue(card.summary(), card.summary().contains("256x192"));
    }

    @Test
    public void provenanceIsOptionalAndChecked() {
        ModelCard old = ModelCard.parse(TestJson.validKeypointCard());
        assertEquals("unknown", old.provenance.kind);
        Map<String, Object> card = TestJson.parseMutable(TestJson.validKeypointCard());
        card.put("provenance", TestJson.parseMutable(
                "{\"kind\": \"synthetic\", \"summary\": \"trained on the embedded synthetic demo data only\", \"details\": {}}"));
        ModelCard demo = ModelCard.parse(TestJson.write(card));
        assertTrue(demo.provenance.isSyntheticDemo());
        assertTrue(demo.summary(), demo.summary().contains("synthetic demo data only"));
        expectCardError("provenance.kind", c -> c.put("provenance", TestJson.parseMutable(
                "{\"kind\": \"guessed\", \"summary\": \"x\", \"details\": {}}")));
        expectCardError("provenance", c -> c.put("provenance", TestJson.parseMutable(
                "{\"kind\": \"imported\", \"summary\": \"x\", \"details\": {}, \"extra\": 1}")));
    }

    @Test
    public void floatWeightsAreOptionalAndChecked() {
        assertEquals("float32", ModelCard.parse(TestJson.validKeypointCard()).converter.floatWeights);
        Map<String, Object> card = TestJson.parseMutable(TestJson.validKeypointCard());
        TestJson.obj(card, "converter").put("float_weights", "float16");
        assertEquals("float16", ModelCard.parse(TestJson.write(card)).converter.floatWeights);
        TestJson.obj(card, "converter").put("float_weights", "int8");
        assertEquals("int8", ModelCard.parse(TestJson.write(card)).converter.floatWeights);
        expectCardError("converter.float_weights", c -> TestJson.obj(c, "converter").put("float_weights", "bfloat16"));
        for (String storage : new String[] {"float16", "int8"}) {
            expectCardError("converter.float_weights", c -> {
                TestJson.obj(c, "converter").put("float_weights", storage);
                TestJson.obj(c, "converter").put("int8", true);
            });
        }
        expectCardError("converter", c -> TestJson.obj(c, "converter").put("float_bits", 16L));
    }

    @Test
    public void missingFieldsAreNamed() {
        expectCardError("sha256", c -> c.remove("sha256"));
        expectCardError("input.shape", c -> TestJson.obj(c, "input").remove("shape"));
        expectCardError("input.crop.padding", c -> TestJson.obj(TestJson.obj(c, "input"), "crop").remove("padding"));
        expectCardError("outputs[0].kind", c -> ((Map<?, ?>) TestJson.list(c, "outputs").get(0)).remove("kind"));
        expectCardError("census.op_counts, census.lce_bconv2d", c -> {
            TestJson.obj(c, "census").remove("op_counts");
            TestJson.obj(c, "census").remove("lce_bconv2d");
        });
    }

    @Test
    public void wrongValuesAreNamed() {
        expectCardError("format", c -> c.put("format", "something-else"));
        ModelCardException e = expectCardError("version", c -> c.put("version", 2L));
        assertTrue(e.getMessage().contains("unsupported version 2"));
        expectCardError("card", c -> c.put("extra", 1L));
        expectCardError("task", c -> c.put("task", "segmentation"));
        expectCardError("tflite_file", c -> c.put("tflite_file", "dir/model.tflite"));
        expectCardError("file_size_bytes", c -> c.put("file_size_bytes", 1.5));
        expectCardError("sha256", c -> c.put("sha256", "ABC"));
        expectCardError("input.shape", c -> TestJson.obj(c, "input").put("shape", Arrays.asList(1L, 256L, 192L, 4L)));
        expectCardError("input.shape", c -> TestJson.obj(c, "input").put("shape", Arrays.asList(1L, 256L, 192L)));
        expectCardError("input.dtype", c -> TestJson.obj(c, "input").put("dtype", "int8"));
        expectCardError("input.layout", c -> TestJson.obj(c, "input").put("layout", "NCHW"));
        expectCardError("input.color", c -> TestJson.obj(c, "input").put("color", "BGR"));
        expectCardError("input.normalization.std", c -> TestJson.obj(TestJson.obj(c, "input"), "normalization")
                .put("std", Arrays.asList(1.0, 0L, 1.0)));
        expectCardError("input.crop.interpolation", c -> TestJson.obj(TestJson.obj(c, "input"), "crop").put("interpolation", "cubic"));
        expectCardError("outputs", c -> c.put("outputs", Arrays.asList()));
        expectCardError("outputs[0].dtype", c -> TestJson.<Map<String, Object>>cast(TestJson.list(c, "outputs").get(0)).put("dtype", "int8"));
        expectCardError("heatmap", c -> c.put("heatmap", null));
        expectCardError("heatmap.decoding", c -> TestJson.obj(c, "heatmap").put("decoding", "dark"));
        expectCardError("heatmap.blur_kernel", c -> TestJson.obj(c, "heatmap").put("blur_kernel", 11L));
        expectCardError("keypoints.skeleton", c -> TestJson.list(TestJson.obj(c, "keypoints"), "skeleton").add(Arrays.asList(0L, 17L)));
        expectCardError("keypoints.flip_pairs", c -> TestJson.list(TestJson.obj(c, "keypoints"), "names").remove(16));
        expectCardError("keypoints.names", c -> TestJson.<Map<String, Object>>cast(TestJson.list(c, "outputs").get(0))
                .put("shape", Arrays.asList(1L, 64L, 48L, 18L)));
        expectCardError("census.lce_bconv2d", c -> TestJson.obj(c, "census").put("lce_bconv2d", 4L));
        expectCardError("parity.tolerance", c -> TestJson.obj(c, "parity").put("tolerance", -1.0));
        expectCardError("converter.int8", c -> TestJson.obj(c, "converter").put("int8", "no"));
        expectCardError("converter.target", c -> TestJson.obj(c, "converter").put("target", "gpu"));
    }

    @Test
    public void invalidJsonIsACardError() {
        try {
            ModelCard.parse("{\"format\": \"bhpe-tf-model-card\",}");
            fail();
        } catch (ModelCardException e) {
            assertEquals("json", e.field());
            assertTrue(e.getMessage().contains("not valid JSON"));
        }
        try {
            ModelCard.parse("[1, 2]");
            fail();
        } catch (ModelCardException e) {
            assertEquals("card", e.field());
        }
    }

    @Test
    public void interpreterShapesAreChecked() {
        ModelCard card = ModelCard.parse(TestJson.validKeypointCard());
        card.checkInputShape(new int[] {1, 256, 192, 3});
        try {
            card.checkInputShape(new int[] {1, 128, 96, 3});
            fail();
        } catch (InputShapeException e) {
            assertArrayEquals(new int[] {1, 256, 192, 3}, e.expected());
            assertArrayEquals(new int[] {1, 128, 96, 3}, e.actual());
            assertTrue(e.getMessage(), e.getMessage().contains("[1, 128, 96, 3]"));
        }
        card.checkInterpreter(1, new int[] {1, 256, 192, 3}, 1, new int[][] {{1, 64, 48, 17}});
        try {
            card.checkInterpreter(1, new int[] {1, 256, 192, 3}, 1, new int[][] {{1, 64, 48, 16}});
            fail();
        } catch (InputShapeException expected) {
            assertTrue(expected.getMessage().contains("output tensor 0"));
        }
        try {
            card.checkInterpreter(1, new int[] {1, 256, 192, 3}, 2, new int[][] {{1, 64, 48, 17}, {1}});
            fail();
        } catch (InputShapeException expected) {
            assertTrue(expected.getMessage().contains("2 outputs"));
        }
    }

    @Test
    public void modelBytesMustMatchTheCard() {
        ModelCard card = ModelCard.parse(TestJson.validKeypointCard());
        card.verifyModel("hello".getBytes(StandardCharsets.US_ASCII));
        try {
            card.verifyModel("hellO".getBytes(StandardCharsets.US_ASCII));
            fail();
        } catch (ModelCardException e) {
            assertEquals("sha256", e.field());
        }
        try {
            card.verifyModel("hello!".getBytes(StandardCharsets.US_ASCII));
            fail();
        } catch (ModelCardException e) {
            assertEquals("file_size_bytes", e.field());
        }
    }

    @Test
    public void meshCardNeedsNoKeypoints() {
        Map<String, Object> c = TestJson.parseMutable(TestJson.validKeypointCard());
        c.put("task", "smplx_mesh");
        c.put("heatmap", null);
        c.put("keypoints", null);
        c.put("outputs", TestJson.parseMutable("{\"o\": [{\"name\": \"v\", \"index\": 1, \"shape\": [1, 10475, 3], \"dtype\": "
                + "\"float32\", \"kind\": \"vertices\"}, {\"name\": \"j\", \"index\": 0, \"shape\": [1, 137, 2], "
                + "\"dtype\": \"float32\", \"kind\": \"joints_2d\"}]}").get("o"));
        ModelCard card = ModelCard.parse(TestJson.write(c));
        assertTrue(card.isMeshModel());
        assertNull(card.keypoints);
        assertEquals(1, card.outputOfKind("vertices").index);
        MeshDecoder decoder = new MeshDecoder(card);
        assertEquals(0, decoder.jointsIndex());
        assertEquals(1, decoder.verticesIndex());
        try {
            new HeatmapDecoder(card);
            fail();
        } catch (ModelCardException expected) {
            assertEquals("task", expected.field());
        }
        assertNotNull(card.summary());
    }

    @Test
    public void builtInSkeletonsAreConsistent() {
        assertEquals(17, Skeleton.COCO_17.size());
        assertEquals(19, Skeleton.COCO_17.edges().length);
        assertEquals(16, Skeleton.MPII_16.size());
        assertEquals(15, Skeleton.MPII_16.edges().length);
        List<String> names = Skeleton.COCO_17.names;
        for (int[] pair : Skeleton.COCO_FLIP_PAIRS) {
            assertEquals(names.get(pair[0]).replace("left", "right"), names.get(pair[1]));
        }
        for (int[] pair : Skeleton.MPII_FLIP_PAIRS) {
            assertEquals(Skeleton.MPII_16.names.get(pair[0]).replace("right", "left"), Skeleton.MPII_16.names.get(pair[1]));
        }
    }
}
