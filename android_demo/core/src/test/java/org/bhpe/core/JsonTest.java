package org.bhpe.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.Test;

public class JsonTest {
    @Test
    public void parsesAllValueKinds() throws Exception {
        Object v = Json.parse(" {\"a\": [1, -2, 3.5, 1e-05, -0.0, true, false, null], \"b\": {\"c\": \"x\\n\\u00e9\\\"\"}, \"d\": []} ");
        Map<?, ?> m = (Map<?, ?>) v;
        List<?> a = (List<?>) m.get("a");
        assertEquals(1L, a.get(0));
        assertEquals(-2L, a.get(1));
        assertEquals(3.5, a.get(2));
        assertEquals(1e-5, a.get(3));
        assertEquals(-0.0, a.get(4));
        assertEquals(Boolean.TRUE, a.get(5));
        assertEquals(Boolean.FALSE, a.get(6));
        assertNull(a.get(7));
        assertEquals("x\n\u00e9\"", ((Map<?, ?>) m.get("b")).get("c"));
        assertTrue(((List<?>) m.get("d")).isEmpty());
        assertEquals(Arrays.asList("a", "b", "d"), Arrays.asList(m.keySet().toArray()));
    }

    @Test
    public void pythonFloatReprRoundTrips() throws Exception {
        assertEquals(1.0 / 255.0, (Double) Json.parse("0.00392156862745098"), 0.0);
    }

    @Test
    public void rejectsNonStrictJson() {
        String[] bad = {"", "{", "{\"a\": 1,}", "[1, 2,]", "{'a': 1}", "{\"a\": NaN}", "Infinity", "[01]", "1.", "-",
            "{\"a\": 1} x", "// c\n{}", "{\"a\": 1, \"a\": 2}", "\"tab\there\"", "\"\\x\"", "tru", "[1 2]", "{\"a\" 1}",
            "\"unterminated", "1e", "99999999999999999999"};
        for (String text : bad) {
            try {
                Json.parse(text);
                fail("accepted invalid JSON: " + text);
            } catch (Json.ParseException expected) {
                assertTrue(expected.getMessage(), expected.getMessage().contains("offset"));
            }
        }
    }
}
