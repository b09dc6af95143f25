package org.bhpe.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.nio.FloatBuffer;
import java.util.Map;
import org.junit.Test;

public class MeshDecoderTest {
    private static ModelCard meshCard(String joints2dShape) {
        Map<String, Object> c = TestJson.parseMutable(TestJson.validKeypointCard());
        c.put("task", "smplx_mesh");
        c.put("heatmap", null);
        c.put("keypoints", null);
        c.put("outputs", TestJson.parseMutable("{\"o\": [{\"name\": \"v\", \"index\": 0, \"shape\": [1, 4, 3], \"dtype\": "
                + "\"float32\", \"kind\": \"vertices\"}, {\"name\": \"j\", \"index\": 1, \"shape\": " + joints2dShape + ", "
                + "\"dtype\": \"float32\", \"kind\": \"joints_2d\"}]}").get("o"));
        return ModelCard.parse(TestJson.write(c));
    }

    @Test
    public void landmarksAndVerticesMapToTheImage() {
        ModelCard card = meshCard("[1, 2, 2]");  // input 256x192, like Hand4Whole's body input
        MeshDecoder decoder = new MeshDecoder(card);
        CenterScale region = new CenterScale(500f, 400f, 150f, 200f);  // 150 px wide -> crop scale 192/150
        // joint 0 at the crop centre, joint 1 at the crop's top-left corner
        FloatBuffer joints = FloatBuffer.wrap(new float[] {96f, 128f, 0f, 0f});
        // vertex 0 on the optical axis, vertex 1 shifted by 0.01 m at 5 m (10 crop px), 2 behind the camera
        FloatBuffer verts = FloatBuffer.wrap(new float[] {0f, 0f, 5f, 0.01f, 0f, 5f, 0f, 0f, -1f, 0f, 0f, 0f});
        MeshResult r = decoder.decode(joints, verts, region, 1);
        float[] l = r.landmarks();
        assertEquals(500f, l[0], 1e-3f);
        assertEquals(400f, l[1], 1e-3f);
        assertEquals(425f, l[2], 1e-3f);
        assertEquals(300f, l[3], 1e-3f);
        float[] p = r.projectedVertices();
        assertEquals(500f, p[0], 1e-3f);
        assertEquals(400f, p[1], 1e-3f);
        assertEquals(500f + 10f * 150f / 192f, p[2], 1e-3f);
        assertTrue(Float.isNaN(p[4]) && Float.isNaN(p[6]));
        assertEquals(4, r.vertexCount());
        assertEquals(2, decoder.decode(joints, verts, region, 3).vertexCount());
    }

    @Test
    public void badPointShapesAreCardErrors() {
        try {
            new MeshDecoder(meshCard("[1, 2, 3]"));
            fail();
        } catch (ModelCardException e) {
            assertEquals("outputs[1].shape", e.field());
        }
    }
}
