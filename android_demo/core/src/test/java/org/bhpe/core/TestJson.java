package org.bhpe.core;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Test helpers: a JSON writer and deep mutable copies of parsed JSON, to build card variants. */
final class TestJson {
    private TestJson() {
    }

    static String write(Object value) {
        StringBuilder sb = new StringBuilder();
        write(value, sb);
        return sb.toString();
    }

    private static void write(Object value, StringBuilder sb) {
        if (value == null) {
            sb.append("null");
        } else if (value instanceof String) {
            sb.append('"');
            for (char c : ((String) value).toCharArray()) {
                if (c == '"' || c == '\\') sb.append('\\').append(c);
                else if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
                else sb.append(c);
            }
            sb.append('"');
        } else if (value instanceof Map) {
            sb.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : ((Map<?, ?>) value).entrySet()) {
                if (!first) sb.append(", ");
                first = false;
                write(e.getKey(), sb);
                sb.append(": ");
                write(e.getValue(), sb);
            }
            sb.append('}');
        } else if (value instanceof List) {
            sb.append('[');
            boolean first = true;
            for (Object v : (List<?>) value) {
                if (!first) sb.append(", ");
                first = false;
                write(v, sb);
            }
            sb.append(']');
        } else if (value instanceof int[]) {
            List<Object> list = new ArrayList<>();
            for (int v : (int[]) value) list.add((long) v);
            write(list, sb);
        } else if (value instanceof Integer) {
            sb.append((long) (Integer) value);
        } else {
            sb.append(value);  // Long, Double, Boolean
        }
    }

    /** Deep mutable copy of parsed JSON (maps and lists). */
    @SuppressWarnings("unchecked")
    static <T> T mutable(T value) {
        if (value instanceof Map) {
            Map<String, Object> out = new LinkedHashMap<>();
            for (Map.Entry<String, Object> e : ((Map<String, Object>) value).entrySet()) {
                out.put(e.getKey(), mutable(e.getValue()));
            }
            return (T) out;
        }
        if (value instanceof List) {
            List<Object> out = new ArrayList<>();
            for (Object v : (List<Object>) value) out.add(mutable(v));
            return (T) out;
        }
        return value;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> parseMutable(String json) {
        try {
            return mutable((Map<String, Object>) Json.parse(json));
        } catch (Json.ParseException e) {
            throw new AssertionError(e);
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> obj(Map<String, Object> parent, String key) {
        return (Map<String, Object>) parent.get(key);
    }

    @SuppressWarnings("unchecked")
    static List<Object> list(Map<String, Object> parent, String key) {
        return (List<Object>) parent.get(key);
    }

    /** A valid keypoint card (COCO-17, 256x192 uint8 input, 64x48 heatmaps) as JSON text. */
    static String validKeypointCard() {
        StringBuilder names = new StringBuilder();
        for (int i = 0; i < Skeleton.COCO_17.names.size(); i++) {
            if (i > 0) names.append(", ");
            names.append('"').append(Skeleton.COCO_17.names.get(i)).append('"');
        }
        return "{\"format\": \"bhpe-tf-model-card\", \"version\": 1, \"bhpe_tf_version\": \"0.1.0\",\n"
                + " \"model\": \"bihrnet\", \"method\": \"bidrn\", \"task\": \"keypoints_2d\",\n"
                + " \"tflite_file\": \"bihrnet.tflite\", \"file_size_bytes\": 5, \"sha256\": "
                + "\"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\",\n"
                + " \"input\": {\"name\": \"image\", \"index\": 0, \"shape\": [1, 256, 192, 3], \"dtype\": \"uint8\",\n"
                + "   \"layout\": \"NHWC\", \"color\": \"RGB\",\n"
                + "   \"normalization\": {\"scale\": 0.00392156862745098, \"mean\": [0.485, 0.456, 0.406], \"std\": [0.229, 0.224, 0.225]},\n"
                + "   \"crop\": {\"aspect_ratio\": 0.75, \"padding\": 1.25, \"interpolation\": \"bilinear\"}},\n"
                + " \"outputs\": [{\"name\": \"heatmaps\", \"index\": 0, \"shape\": [1, 64, 48, 17], \"dtype\": \"float32\", \"kind\": \"heatmaps\"}],\n"
                + " \"heatmap\": {\"stride\": 4, \"decoding\": \"argmax_quarter_offset\"},\n"
                + " \"keypoints\": {\"dataset\": \"coco\", \"names\": [" + names + "],\n"
                + "   \"flip_pairs\": [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12], [13, 14], [15, 16]],\n"
                + "   \"skeleton\": [[15, 13], [13, 11], [16, 14], [14, 12], [11, 12], [5, 11], [6, 12], [5, 6], [5, 7], [6, 8], [7, 9], [8, 10], [1, 2], [0, 1], [0, 2], [1, 3], [2, 4], [3, 5], [4, 6]]},\n"
                + " \"census\": {\"op_counts\": {\"LceBconv2d\": 3, \"CONV_2D\": 2}, \"float_fallbacks\": [], \"binary_layers\": 3, \"lce_bconv2d\": 3},\n"
                + " \"parity\": {\"max_abs_diff\": 1e-05, \"output_scale\": 1.5, \"tolerance\": 0.0015, \"input\": \"seeded uniform [0,255] image, seed 0\"},\n"
                + " \"converter\": {\"target\": \"arm\", \"int8\": false, \"lce_version\": \"0.16.0\", \"tensorflow_version\": \"2.16.2\"}}\n";
    }

    @SuppressWarnings("unchecked")
    static <T> T cast(Object value) {
        return (T) value;
    }
}
