package org.bhpe.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.fail;

import java.util.Map;
import org.junit.Test;

public class HeatmapDecoderTest {
    private static void set(float[] hm, int w, int k, int x, int y, int j, float v) {
        hm[(y * w + x) * k + j] = v;
    }

    @Test
    public void argmaxWithQuarterOffset() {
        int h = 8, w = 6, k = 3;
        float[] hm = new float[h * w * k];
        // joint 0: peak at (3, 4), right neighbour higher than left, upper higher than lower -> (3.25, 3.75)
        set(hm, w, k, 3, 4, 0, 1.0f);
        set(hm, w, k, 4, 4, 0, 0.6f);
        set(hm, w, k, 2, 4, 0, 0.5f);
        set(hm, w, k, 3, 3, 0, 0.7f);
        set(hm, w, k, 3, 5, 0, 0.2f);
        // joint 1: peak on the border column x = 1 -> no offset (HRNet needs 1 < x < W-1)
        set(hm, w, k, 1, 4, 1, 0.9f);
        set(hm, w, k, 2, 4, 1, 0.5f);
        // joint 2: all negative -> (0, 0), score = max
        for (int p = 0; p < h * w; p++) hm[p * k + 2] = -1f;
        hm[(2 * w + 3) * k + 2] = -0.5f;
        float[] coords = new float[2 * k];
        float[] scores = new float[k];
        HeatmapDecoder.decodeHeatmapCoords(hm, h, w, k, coords, scores);
        assertEquals(3.25f, coords[0], 0f);
        assertEquals(3.75f, coords[1], 0f);
        assertEquals(1.0f, scores[0], 0f);
        assertEquals(1f, coords[2], 0f);
        assertEquals(4f, coords[3], 0f);
        assertEquals(0f, coords[4], 0f);
        assertEquals(0f, coords[5], 0f);
        assertEquals(-0.5f, scores[2], 0f);
    }

    @Test
    public void firstMaximumWinsLikeNumpy() {
        float[] hm = new float[4 * 4];
        hm[5] = 1f;
        hm[10] = 1f;
        float[] coords = new float[2];
        float[] scores = new float[1];
        HeatmapDecoder.decodeHeatmapCoords(hm, 4, 4, 1, coords, scores);
        assertEquals(1f, coords[0], 0f);
        assertEquals(1f, coords[1], 0f);
    }

    @Test
    public void decodeMapsToImageCoordinates() {
        ModelCard card = ModelCard.parse(TestJson.validKeypointCard());
        HeatmapDecoder decoder = new HeatmapDecoder(card);
        assertEquals(64, decoder.height());
        assertEquals(48, decoder.width());
        float[] hm = new float[64 * 48 * 17];
        set(hm, 48, 17, 24, 32, 0, 1f);  // heatmap centre -> region centre
        CenterScale region = new CenterScale(300f, 200f, 150f, 200f);
        PoseResult pose = decoder.decode(hm, region);
        assertEquals(17, pose.keypoints.size());
        assertEquals("nose", pose.keypoints.get(0).name);
        assertEquals(300f, pose.keypoints.get(0).x, 1e-3f);
        assertEquals(200f, pose.keypoints.get(0).y, 1e-3f);
        // joint at heatmap (0, 0) (all-zero map) -> top-left corner of the region
        assertEquals(300f - 75f, pose.keypoints.get(1).x, 1e-3f);
        assertEquals(200f - 100f, pose.keypoints.get(1).y, 1e-3f);
    }

    @Test
    public void inconsistentStrideIsACardError() {
        Map<String, Object> c = TestJson.parseMutable(TestJson.validKeypointCard());
        TestJson.obj(c, "heatmap").put("stride", 2L);
        try {
            new HeatmapDecoder(ModelCard.parse(TestJson.write(c)));
            fail();
        } catch (ModelCardException e) {
            assertEquals("heatmap.stride", e.field());
        }
    }

    @Test
    public void shortHeatmapBufferIsAShapeError() {
        try {
            HeatmapDecoder.decodeHeatmapCoords(new float[10], 4, 4, 1, new float[2], new float[1]);
            fail();
        } catch (InputShapeException expected) {
            // expected
        }
    }
}
