package org.bhpe.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.Test;

/**
 * The Java reader against the card's one JSON Schema, {@code bhpe_tf/runtime/model_card.schema.json} (the file the
 * Python validator reads its keys and allowed values from): every required key of every object, when missing, is
 * refused naming that key; an unknown key is refused naming its object; a value outside an {@code enum} or other
 * than a {@code const} is refused naming the field.
 */
public class ModelCardSchemaTest {
    private static final String SCHEMA = "bhpe_tf/runtime/model_card.schema.json";

    /** The schema file, found from the working directory upwards (the repository root or android_demo/core). */
    static Map<String, Object> schema() throws IOException, Json.ParseException {
        for (Path dir = Paths.get(System.getProperty("user.dir")).toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path file = dir.resolve(SCHEMA);
            if (Files.isRegularFile(file)) {
                return TestJson.cast(Json.parse(new String(Files.readAllBytes(file), StandardCharsets.UTF_8)));
            }
        }
        fail(SCHEMA + " not found above " + System.getProperty("user.dir"));
        return null;
    }

    /** One object of the schema and where it sits in the valid test card. */
    private static final class Site {
        final List<Object> path;  // keys (String) and list positions (Integer) from the card's root
        final Map<String, Object> node;

        Site(List<Object> path, Map<String, Object> node) {
            this.path = path;
            this.node = node;
        }

        String field(String key) {
            StringBuilder sb = new StringBuilder();
            for (Object part : path) {
                if (part instanceof Integer) sb.append('[').append(part).append(']');
                else sb.append(sb.length() == 0 ? "" : ".").append(part);
            }
            if (key == null) return sb.length() == 0 ? "card" : sb.toString();
            return sb.length() == 0 ? key : sb + "." + key;
        }

        Map<String, Object> in(Map<String, Object> card) {
            Object value = card;
            for (Object part : path) {
                value = part instanceof Integer ? ((List<?>) value).get((Integer) part) : ((Map<?, ?>) value).get(part);
            }
            return TestJson.cast(value);
        }
    }

    /** Every object of the schema with required keys, where the valid test card has one. */
    private static List<Site> objects(Map<String, Object> schema, Map<String, Object> card) {
        List<Site> out = new ArrayList<>();
        collect(new ArrayList<>(), schema, card, out);
        return out;
    }

    private static void collect(List<Object> path, Map<String, Object> node, Object value, List<Site> out) {
        if (node.containsKey("items") && value instanceof List && !((List<?>) value).isEmpty()) {
            List<Object> next = new ArrayList<>(path);
            next.add(0);
            collect(next, TestJson.cast(node.get("items")), ((List<?>) value).get(0), out);
            return;
        }
        if (!(value instanceof Map) || !node.containsKey("required")) return;
        out.add(new Site(path, node));
        Map<String, Object> properties = TestJson.cast(node.get("properties"));
        for (Map.Entry<String, Object> e : properties.entrySet()) {
            List<Object> next = new ArrayList<>(path);
            next.add(e.getKey());
            collect(next, TestJson.cast(e.getValue()), ((Map<?, ?>) value).get(e.getKey()), out);
        }
    }

    private static String refusedField(Map<String, Object> card) {
        try {
            ModelCard.parse(TestJson.write(card));
        } catch (ModelCardException e) {
            return e.field();
        }
        return null;
    }

    private static Map<String, Object> validCard() {
        return TestJson.parseMutable(TestJson.validKeypointCard());
    }

    @Test
    public void theValidCardHasEveryObjectOfTheSchema() throws Exception {
        List<Site> sites = objects(schema(), validCard());
        List<String> fields = new ArrayList<>();
        for (Site site : sites) fields.add(site.field(null));
        for (String expected : new String[] {"card", "input", "input.normalization", "input.crop", "outputs[0]",
                "heatmap", "keypoints", "census", "parity", "converter"}) {
            assertTrue(fields.toString(), fields.contains(expected));
        }
        assertNotNull(ModelCard.parse(TestJson.validKeypointCard()));
    }

    @Test
    public void everyRequiredKeyOfTheSchemaIsRequired() throws Exception {
        for (Site site : objects(schema(), validCard())) {
            for (Object key : (List<?>) site.node.get("required")) {
                Map<String, Object> card = validCard();
                site.in(card).remove((String) key);
                assertEquals("without " + site.field((String) key), site.field((String) key), refusedField(card));
            }
        }
    }

    @Test
    public void unknownKeysAreRefusedWhereTheSchemaForbidsThem() throws Exception {
        for (Site site : objects(schema(), validCard())) {
            assertEquals(site.field(null), Boolean.FALSE, site.node.get("additionalProperties"));
            Map<String, Object> card = validCard();
            site.in(card).put("not_in_the_schema", 1L);
            assertEquals(site.field(null), site.field(null), refusedField(card));
        }
    }

    @Test
    public void enumsAndConstsOfTheSchemaAreEnforced() throws Exception {
        int checked = 0;
        for (Site site : objects(schema(), validCard())) {
            Map<String, Object> properties = TestJson.cast(site.node.get("properties"));
            for (Map.Entry<String, Object> e : properties.entrySet()) {
                Map<String, Object> rule = TestJson.cast(e.getValue());
                if (!rule.containsKey("enum") && !rule.containsKey("const")) continue;
                Object wrong = rule.containsKey("const") && !(rule.get("const") instanceof String) ? (Object) 99L
                        : "not-in-the-schema";
                if (rule.containsKey("enum")) assertFalse(((List<?>) rule.get("enum")).contains(wrong));
                Map<String, Object> card = validCard();
                site.in(card).put(e.getKey(), wrong);
                assertEquals(site.field(e.getKey()) + " = " + wrong, site.field(e.getKey()), refusedField(card));
                checked++;
            }
        }
        assertTrue("enum / const fields checked: " + checked, checked >= 12);
    }

    @Test
    public void everyFloatWeightsValueOfTheSchemaIsRead() throws Exception {
        Map<String, Object> converter = TestJson.cast(TestJson.<Map<String, Object>>cast(
                TestJson.<Map<String, Object>>cast(schema().get("properties")).get("converter")).get("properties"));
        for (Object storage : (List<?>) TestJson.<Map<String, Object>>cast(converter.get("float_weights")).get("enum")) {
            Map<String, Object> card = validCard();
            TestJson.obj(card, "converter").put("float_weights", storage);
            assertEquals(storage, ModelCard.parse(TestJson.write(card)).converter.floatWeights);
        }
    }
}
