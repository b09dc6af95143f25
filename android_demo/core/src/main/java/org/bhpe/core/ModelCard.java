package org.bhpe.core;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The model card (schema version 1) written by the converter next to every {@code .tflite}
 * ({@code OUT.tflite} -> {@code OUT.json}). This reader applies the same rules as the Python validator
 * {@code bhpe_tf.runtime.card.validate_model_card} (exact key sets, types, ranges, cross-field
 * checks; keys and allowed values from {@code bhpe_tf/runtime/model_card.schema.json}) and fails with a
 * {@link ModelCardException} naming the field. Schema, exactly:
 *
 * <pre>
 * {"format": "bhpe-tf-model-card", "version": 1, "bhpe_tf_version", "model", "method",
 *  "task": "keypoints_2d" | "smplx_mesh", "tflite_file", "file_size_bytes", "sha256",
 *  "input": {"name", "index": 0, "shape": [1, H, W, 3], "dtype": "uint8" | "float32", "layout": "NHWC",
 *            "color": "RGB", "normalization": {"scale", "mean": [3], "std": [3]},
 *            "crop": {"aspect_ratio", "padding", "interpolation": "bilinear" | "nearest"}},
 *  "outputs": [{"name", "index", "shape", "dtype": "float32", "kind"}],
 *  "heatmap": {"stride", "decoding": "argmax_quarter_offset", "blur_kernel" (only with "dark")} | null,
 *  "keypoints": {"dataset", "names", "flip_pairs", "skeleton"} | null,
 *  "census": {"op_counts", "float_fallbacks", "binary_layers", "lce_bconv2d"},
 *  "parity": {"max_abs_diff", "output_scale", "tolerance", "input"},
 *  "converter": {"target": "arm" | "xcore" | "tflite", "int8", "lce_version", "tensorflow_version",
 *                "float_weights": "float32" | "float16" | "int8"},
 *  "provenance": {"kind": "imported" | "dataset" | "synthetic" | "untrained" | "unknown", "summary", "details"}}
 * </pre>
 *
 * {@code provenance} is the one optional top-level key (what the weights were learned from; cards written before
 * it existed lack it and read as {@link Provenance#UNKNOWN}); {@code converter.float_weights} is the one optional
 * nested key (how the float weights are stored; absent reads as {@code "float32"}; {@code "float16"} and
 * {@code "int8"} (per output channel) exclude {@code int8}).
 *
 * Normalisation: the network sees {@code ((x * scale) - mean) / std} for the RGB byte {@code x}; with
 * {@code input.dtype == "uint8"} that happens inside the graph and the caller feeds raw bytes, with
 * {@code "float32"} the caller applies it ({@link Preprocessor}).
 */
public final class ModelCard {
    public static final String FORMAT = "bhpe-tf-model-card";
    public static final int VERSION = 1;
    public static final String TASK_KEYPOINTS = "keypoints_2d";
    public static final String TASK_MESH = "smplx_mesh";
    public static final List<String> TASKS = listOf(TASK_KEYPOINTS, TASK_MESH);
    public static final List<String> INPUT_DTYPES = listOf("uint8", "float32");
    public static final List<String> OUTPUT_KINDS =
            listOf("heatmaps", "vertices", "joints_2d", "joints_3d", "boxes", "smplx_params", "other");
    public static final List<String> TARGETS = listOf("arm", "xcore", "tflite");
    /** The decodings {@link HeatmapDecoder} implements; cards may name others ({@code bhpe_tf.data.codecs}). */
    public static final List<String> HEATMAP_DECODINGS = listOf("argmax_quarter_offset");
    public static final List<String> INTERPOLATIONS = listOf("bilinear", "nearest");

    static final List<String> TOP_KEYS = listOf("format", "version", "bhpe_tf_version", "model", "method", "task",
            "tflite_file", "file_size_bytes", "sha256", "input", "outputs", "heatmap", "keypoints", "census", "parity",
            "converter");
    static final List<String> INPUT_KEYS = listOf("name", "index", "shape", "dtype", "layout", "color",
            "normalization", "crop");
    static final List<String> NORMALIZATION_KEYS = listOf("scale", "mean", "std");
    static final List<String> CROP_KEYS = listOf("aspect_ratio", "padding", "interpolation");
    static final List<String> OUTPUT_KEYS = listOf("name", "index", "shape", "dtype", "kind");
    static final List<String> HEATMAP_KEYS = listOf("stride", "decoding");
    static final List<String> OPTIONAL_HEATMAP_KEYS = listOf("blur_kernel");
    static final List<String> KEYPOINTS_KEYS = listOf("dataset", "names", "flip_pairs", "skeleton");
    static final List<String> CENSUS_KEYS = listOf("op_counts", "float_fallbacks", "binary_layers", "lce_bconv2d");
    static final List<String> PARITY_KEYS = listOf("max_abs_diff", "output_scale", "tolerance", "input");
    static final List<String> CONVERTER_KEYS = listOf("target", "int8", "lce_version", "tensorflow_version");
    static final List<String> OPTIONAL_CONVERTER_KEYS = listOf("float_weights");
    public static final List<String> FLOAT_WEIGHTS = listOf("float32", "float16", "int8");
    static final List<String> OPTIONAL_TOP_KEYS = listOf("provenance");
    static final List<String> PROVENANCE_KEYS = listOf("kind", "summary", "details");
    public static final List<String> PROVENANCE_KINDS = listOf("imported", "dataset", "synthetic", "untrained", "unknown");

    /** {@code input}: the one image input of the flatbuffer. */
    public static final class Input {
        public final String name;
        public final int index;
        private final int[] shape;
        public final String dtype;
        public final String layout;
        public final String color;
        public final double normScale;
        private final double[] mean;
        private final double[] std;
        public final double aspectRatio;
        public final double padding;
        public final String interpolation;

        Input(String name, int index, int[] shape, String dtype, String layout, String color, double normScale,
              double[] mean, double[] std, double aspectRatio, double padding, String interpolation) {
            this.name = name;
            this.index = index;
            this.shape = shape;
            this.dtype = dtype;
            this.layout = layout;
            this.color = color;
            this.normScale = normScale;
            this.mean = mean;
            this.std = std;
            this.aspectRatio = aspectRatio;
            this.padding = padding;
            this.interpolation = interpolation;
        }

        public int[] shape() { return shape.clone(); }
        public int height() { return shape[1]; }
        public int width() { return shape[2]; }
        public int channels() { return shape[3]; }
        public boolean isUint8() { return "uint8".equals(dtype); }
        public double[] mean() { return mean.clone(); }
        public double[] std() { return std.clone(); }
        /** Bytes of the input tensor: H*W*3 for uint8, 4*H*W*3 for float32. */
        public int byteSize() { return height() * width() * channels() * (isUint8() ? 1 : 4); }
    }

    /** One entry of {@code outputs}. */
    public static final class Output {
        public final String name;
        public final int index;
        private final int[] shape;
        public final String dtype;
        public final String kind;

        Output(String name, int index, int[] shape, String dtype, String kind) {
            this.name = name;
            this.index = index;
            this.shape = shape;
            this.dtype = dtype;
            this.kind = kind;
        }

        public int[] shape() { return shape.clone(); }
        public int numElements() {
            int n = 1;
            for (int d : shape) n *= d;
            return n;
        }
    }

    /** {@code heatmap}. */
    public static final class Heatmap {
        public final int stride;
        public final String decoding;

        Heatmap(int stride, String decoding) {
            this.stride = stride;
            this.decoding = decoding;
        }
    }

    /** {@code keypoints}: names, left/right pairs and skeleton edges, all 0-based indices into {@code names}. */
    public static final class Keypoints {
        public final String dataset;
        public final List<String> names;
        private final int[][] flipPairs;
        private final int[][] skeleton;

        Keypoints(String dataset, List<String> names, int[][] flipPairs, int[][] skeleton) {
            this.dataset = dataset;
            this.names = names;
            this.flipPairs = flipPairs;
            this.skeleton = skeleton;
        }

        public int[][] flipPairs() { return deepCopy(flipPairs); }
        public int[][] skeleton() { return deepCopy(skeleton); }
        public Skeleton asSkeleton() { return new Skeleton(dataset, names, skeleton); }
    }

    /** {@code census}: what the converter counted in the flatbuffer. */
    public static final class Census {
        public final Map<String, Long> opCounts;
        public final int floatFallbacks;
        public final long binaryLayers;
        public final long lceBconv2d;

        Census(Map<String, Long> opCounts, int floatFallbacks, long binaryLayers, long lceBconv2d) {
            this.opCounts = opCounts;
            this.floatFallbacks = floatFallbacks;
            this.binaryLayers = binaryLayers;
            this.lceBconv2d = lceBconv2d;
        }
    }

    /** {@code parity}: Keras vs flatbuffer agreement measured at conversion. */
    public static final class Parity {
        public final double maxAbsDiff;
        public final double outputScale;
        public final double tolerance;
        public final String input;

        Parity(double maxAbsDiff, double outputScale, double tolerance, String input) {
            this.maxAbsDiff = maxAbsDiff;
            this.outputScale = outputScale;
            this.tolerance = tolerance;
            this.input = input;
        }
    }

    /** {@code provenance}: what the weights were learned from (bhpe_tf.provenance). */
    public static final class Provenance {
        public static final Provenance UNKNOWN = new Provenance("unknown", "no provenance recorded in the model card");
        public final String kind;
        public final String summary;

        Provenance(String kind, String summary) {
            this.kind = kind;
            this.summary = summary;
        }

        /** True for a model trained only on the embedded synthetic demo data: not a real pose model. */
        public boolean isSyntheticDemo() { return "synthetic".equals(kind); }
    }

    /** {@code converter}. */
    public static final class Converter {
        public final String target;
        public final boolean int8;
        public final String lceVersion;
        public final String tensorflowVersion;
        /** {@code "float32"}, {@code "float16"} or {@code "int8"} (float weights behind a DEQUANTIZE; computed in float32). */
        public final String floatWeights;

        Converter(String target, boolean int8, String lceVersion, String tensorflowVersion, String floatWeights) {
            this.target = target;
            this.int8 = int8;
            this.lceVersion = lceVersion;
            this.tensorflowVersion = tensorflowVersion;
            this.floatWeights = floatWeights;
        }
    }

    public final String format;
    public final int version;
    public final String bhpeTfVersion;
    public final String model;
    public final String method;
    public final String task;
    public final String tfliteFile;
    public final long fileSizeBytes;
    public final String sha256;
    public final Input input;
    public final List<Output> outputs;
    /** {@code null} when the card has {@code "heatmap": null}. */
    public final Heatmap heatmap;
    /** {@code null} when the card has {@code "keypoints": null}. */
    public final Keypoints keypoints;
    public final Census census;
    public final Parity parity;
    public final Converter converter;
    /** {@link Provenance#UNKNOWN} when the card has no {@code provenance}. */
    public final Provenance provenance;

    private ModelCard(Map<String, Object> card) {
        exactKeys(card, TOP_KEYS, OPTIONAL_TOP_KEYS, "card");
        format = string(card, "format", "format");
        check(FORMAT.equals(format), "format", "must be '" + FORMAT + "', got " + repr(format)
                + " (not a bhpe-tf model card)");
        Object v = card.get("version");
        check(isInt(v) && ((Long) v) == VERSION, "version", "unsupported version " + repr(v)
                + " (this reader knows " + VERSION + "; update the app or convert with a matching bhpe-tf)");
        version = VERSION;
        bhpeTfVersion = nonEmpty(card, "bhpe_tf_version", "bhpe_tf_version");
        model = nonEmpty(card, "model", "model");
        method = nonEmpty(card, "method", "method");
        tfliteFile = nonEmpty(card, "tflite_file", "tflite_file");
        sha256 = nonEmpty(card, "sha256", "sha256");
        task = string(card, "task", "task");
        check(TASKS.contains(task), "task", "must be one of " + join(TASKS) + ", got " + repr(task));
        check(tfliteFile.endsWith(".tflite") && !tfliteFile.contains("/"), "tflite_file",
                "must be a bare file name ending in .tflite, got " + repr(tfliteFile));
        Object size = card.get("file_size_bytes");
        check(isInt(size) && (Long) size > 0, "file_size_bytes", "must be a positive integer, got " + repr(size));
        fileSizeBytes = (Long) size;
        check(sha256.length() == 64 && sha256.chars().allMatch(c -> "0123456789abcdef".indexOf(c) >= 0), "sha256",
                "must be 64 lowercase hex digits");

        // input
        Map<String, Object> inp = object(card.get("input"), "input");
        exactKeys(inp, INPUT_KEYS, "input");
        check(inp.get("name") instanceof String, "input.name", "must be a string");
        Object index = inp.get("index");
        check(isInt(index) && (Long) index == 0, "input.index", "must be 0, got " + repr(index));
        int[] shape = intList(inp.get("shape"), "input.shape", 4, true);
        check(shape[0] == 1 && shape[3] == 3, "input.shape", "must be [1, H, W, 3], got " + Arrays.toString(shape));
        String dtype = string(inp, "dtype", "input.dtype");
        check(INPUT_DTYPES.contains(dtype), "input.dtype", "must be one of " + join(INPUT_DTYPES) + ", got " + repr(dtype));
        String layout = string(inp, "layout", "input.layout");
        check("NHWC".equals(layout), "input.layout", "must be 'NHWC', got " + repr(layout));
        String color = string(inp, "color", "input.color");
        check("RGB".equals(color), "input.color", "must be 'RGB', got " + repr(color));
        Map<String, Object> norm = object(inp.get("normalization"), "input.normalization");
        exactKeys(norm, NORMALIZATION_KEYS, "input.normalization");
        check(isNumber(norm.get("scale")) && num(norm.get("scale")) > 0, "input.normalization.scale",
                "must be a positive number");
        double[] mean = numberTriple(norm.get("mean"), "input.normalization.mean");
        double[] std = numberTriple(norm.get("std"), "input.normalization.std");
        for (double s : std) {
            check(s > 0, "input.normalization.std", "must be positive");
        }
        Map<String, Object> crop = object(inp.get("crop"), "input.crop");
        exactKeys(crop, CROP_KEYS, "input.crop");
        check(isNumber(crop.get("aspect_ratio")) && num(crop.get("aspect_ratio")) > 0, "input.crop.aspect_ratio",
                "must be positive");
        check(isNumber(crop.get("padding")) && num(crop.get("padding")) > 0, "input.crop.padding", "must be positive");
        Object interp = crop.get("interpolation");
        check(INTERPOLATIONS.contains(interp), "input.crop.interpolation",
                "must be one of " + join(INTERPOLATIONS) + ", got " + repr(interp));
        input = new Input((String) inp.get("name"), 0, shape, dtype, layout, color, num(norm.get("scale")), mean, std,
                num(crop.get("aspect_ratio")), num(crop.get("padding")), (String) interp);

        // outputs
        Object outs = card.get("outputs");
        check(outs instanceof List && !((List<?>) outs).isEmpty(), "outputs", "must be a non-empty list");
        List<?> outList = (List<?>) outs;
        List<Output> parsed = new ArrayList<>();
        Set<Long> seen = new HashSet<>();
        for (int i = 0; i < outList.size(); i++) {
            String field = "outputs[" + i + "]";
            Map<String, Object> out = object(outList.get(i), field);
            exactKeys(out, OUTPUT_KEYS, field);
            check(out.get("name") instanceof String, field + ".name", "must be a string");
            Object oi = out.get("index");
            check(isInt(oi) && (Long) oi >= 0 && (Long) oi < outList.size(), field + ".index",
                    "must be an integer in 0.." + (outList.size() - 1) + ", got " + repr(oi));
            check(seen.add((Long) oi), field + ".index", "duplicate output index " + oi);
            int[] oshape = intList(out.get("shape"), field + ".shape", -1, true);
            check("float32".equals(out.get("dtype")), field + ".dtype", "must be 'float32', got " + repr(out.get("dtype")));
            check(OUTPUT_KINDS.contains(out.get("kind")), field + ".kind",
                    "must be one of " + join(OUTPUT_KINDS) + ", got " + repr(out.get("kind")));
            parsed.add(new Output((String) out.get("name"), (int) (long) (Long) oi, oshape, "float32", (String) out.get("kind")));
        }
        outputs = Collections.unmodifiableList(parsed);

        // heatmap / keypoints
        Object hm = card.get("heatmap");
        if (TASK_KEYPOINTS.equals(task)) {
            check(hm != null, "heatmap", "required for task keypoints_2d");
            check(outputs.stream().anyMatch(o -> "heatmaps".equals(o.kind)), "outputs",
                    "task keypoints_2d needs a 'heatmaps' output");
            check(card.get("keypoints") != null, "keypoints", "required for task keypoints_2d");
        }
        if (hm != null) {
            Map<String, Object> hmap = object(hm, "heatmap");
            exactKeys(hmap, HEATMAP_KEYS, OPTIONAL_HEATMAP_KEYS, "heatmap");
            Object stride = hmap.get("stride");
            check(isInt(stride) && (Long) stride > 0, "heatmap.stride", "must be a positive integer, got " + repr(stride));
            check(HEATMAP_DECODINGS.contains(hmap.get("decoding")), "heatmap.decoding",
                    "must be one of " + join(HEATMAP_DECODINGS) + " (the decodings this app implements), got "
                            + repr(hmap.get("decoding")));
            // DARK's blur kernel belongs to DARK decoding, which this app does not implement
            check(!hmap.containsKey("blur_kernel"), "heatmap.blur_kernel", "only for decoding 'dark'");
            heatmap = new Heatmap((int) (long) (Long) stride, (String) hmap.get("decoding"));
        } else {
            heatmap = null;
        }
        Object kp = card.get("keypoints");
        if (kp != null) {
            Map<String, Object> kmap = object(kp, "keypoints");
            exactKeys(kmap, KEYPOINTS_KEYS, "keypoints");
            check(kmap.get("dataset") instanceof String, "keypoints.dataset", "must be a string");
            Object names = kmap.get("names");
            check(names instanceof List && !((List<?>) names).isEmpty()
                            && ((List<?>) names).stream().allMatch(n -> n instanceof String), "keypoints.names",
                    "must be a non-empty list of strings");
            List<String> nameList = new ArrayList<>();
            for (Object n : (List<?>) names) nameList.add((String) n);
            int[][] flips = pairs(kmap.get("flip_pairs"), "keypoints.flip_pairs", nameList.size());
            int[][] skeleton = pairs(kmap.get("skeleton"), "keypoints.skeleton", nameList.size());
            for (Output o : outputs) {
                if ("heatmaps".equals(o.kind)) {
                    int channels = o.shape[o.shape.length - 1];
                    check(channels == nameList.size(), "keypoints.names",
                            nameList.size() + " names but the heatmaps output has " + channels + " channels");
                }
            }
            keypoints = new Keypoints((String) kmap.get("dataset"), Collections.unmodifiableList(nameList), flips, skeleton);
        } else {
            keypoints = null;
        }

        // census
        Map<String, Object> cen = object(card.get("census"), "census");
        exactKeys(cen, CENSUS_KEYS, "census");
        Object ops = cen.get("op_counts");
        check(ops instanceof Map && ((Map<?, ?>) ops).values().stream().allMatch(ModelCard::isInt),
                "census.op_counts", "must map op names to integer counts");
        Map<String, Long> opCounts = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : ((Map<?, ?>) ops).entrySet()) opCounts.put((String) e.getKey(), (Long) e.getValue());
        check(cen.get("float_fallbacks") instanceof List, "census.float_fallbacks", "must be a list");
        for (String key : listOf("binary_layers", "lce_bconv2d")) {
            Object value = cen.get(key);
            check(isInt(value) && (Long) value >= 0, "census." + key, "must be a non-negative integer");
        }
        long bconv = (Long) cen.get("lce_bconv2d");
        long counted = opCounts.getOrDefault("LceBconv2d", 0L);
        check(bconv == counted, "census.lce_bconv2d", bconv + " does not match op_counts.LceBconv2d (" + counted + ")");
        census = new Census(Collections.unmodifiableMap(opCounts), ((List<?>) cen.get("float_fallbacks")).size(),
                (Long) cen.get("binary_layers"), bconv);

        // parity
        Map<String, Object> par = object(card.get("parity"), "parity");
        exactKeys(par, PARITY_KEYS, "parity");
        for (String key : listOf("max_abs_diff", "output_scale", "tolerance")) {
            Object value = par.get(key);
            check(isNumber(value) && num(value) >= 0, "parity." + key,
                    "must be a finite non-negative number, got " + repr(value));
        }
        check(par.get("input") instanceof String, "parity.input", "must be a string");
        parity = new Parity(num(par.get("max_abs_diff")), num(par.get("output_scale")), num(par.get("tolerance")),
                (String) par.get("input"));

        // converter
        Map<String, Object> conv = object(card.get("converter"), "converter");
        exactKeys(conv, CONVERTER_KEYS, OPTIONAL_CONVERTER_KEYS, "converter");
        check(TARGETS.contains(conv.get("target")), "converter.target",
                "must be one of " + join(TARGETS) + ", got " + repr(conv.get("target")));
        check(conv.get("int8") instanceof Boolean, "converter.int8", "must be true or false");
        String lce = nonEmpty(conv, "lce_version", "converter.lce_version");
        String tfv = nonEmpty(conv, "tensorflow_version", "converter.tensorflow_version");
        String floatWeights = FLOAT_WEIGHTS.get(0);
        if (conv.containsKey("float_weights")) {
            check(FLOAT_WEIGHTS.contains(conv.get("float_weights")), "converter.float_weights",
                    "must be one of " + join(FLOAT_WEIGHTS) + ", got " + repr(conv.get("float_weights")));
            floatWeights = (String) conv.get("float_weights");
            check(!(!"float32".equals(floatWeights) && (Boolean) conv.get("int8")), "converter.float_weights",
                    floatWeights + " weights and int8 exclude each other");
        }
        converter = new Converter((String) conv.get("target"), (Boolean) conv.get("int8"), lce, tfv, floatWeights);

        // provenance (optional)
        if (card.containsKey("provenance")) {
            Map<String, Object> prov = object(card.get("provenance"), "provenance");
            exactKeys(prov, PROVENANCE_KEYS, "provenance");
            check(PROVENANCE_KINDS.contains(prov.get("kind")), "provenance.kind",
                    "must be one of " + join(PROVENANCE_KINDS) + ", got " + repr(prov.get("kind")));
            String summary = nonEmpty(prov, "summary", "provenance.summary");
            check(summary.indexOf('\n') < 0, "provenance.summary", "must be one line");
            object(prov.get("details"), "provenance.details");
            provenance = new Provenance((String) prov.get("kind"), summary);
        } else {
            provenance = Provenance.UNKNOWN;
        }
    }

    // ------------------------------------------------------------------ entry points

    /** Parse and validate a card from its JSON text. */
    public static ModelCard parse(String json) {
        Object root;
        try {
            root = Json.parse(json);
        } catch (Json.ParseException e) {
            throw new ModelCardException("json", "not valid JSON: " + e.getMessage(), e);
        }
        if (!(root instanceof Map)) {
            throw new ModelCardException("card", "must be an object, got " + typeName(root));
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> map = (Map<String, Object>) root;
        return new ModelCard(map);
    }

    /** Read (UTF-8), parse and validate a card; the stream is read to its end but not closed. */
    public static ModelCard read(InputStream in) throws IOException {
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        byte[] chunk = new byte[8192];
        int n;
        while ((n = in.read(chunk)) > 0) {
            buffer.write(chunk, 0, n);
        }
        return parse(new String(buffer.toByteArray(), StandardCharsets.UTF_8));
    }

    /** {@code OUT.tflite} -> {@code OUT.json}: the card's file name for a flatbuffer's file name. */
    public static String cardFileFor(String tfliteFile) {
        if (!tfliteFile.endsWith(".tflite")) {
            throw new ModelCardException("tflite_file", "must end in .tflite, got " + repr(tfliteFile));
        }
        return tfliteFile.substring(0, tfliteFile.length() - ".tflite".length()) + ".json";
    }

    /**
     * Check that {@code model} is the flatbuffer this card describes (size and SHA-256), so that a
     * .tflite copied without its card (or the other way round) is refused with a clear message.
     */
    public void verifyModel(ByteBuffer model) {
        ByteBuffer view = model.duplicate();
        view.rewind();
        check(view.remaining() == fileSizeBytes, "file_size_bytes",
                "card says " + fileSizeBytes + " bytes but " + tfliteFile + " has " + view.remaining()
                        + " (the .tflite and the card do not belong together)");
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        digest.update(view);
        String hex = toHex(digest.digest());
        check(hex.equals(sha256), "sha256",
                "does not match " + tfliteFile + " (the .tflite was changed after conversion; convert again)");
    }

    public void verifyModel(byte[] model) {
        verifyModel(ByteBuffer.wrap(model));
    }

    /** The interpreter's input tensor must have exactly the card's {@code input.shape}. */
    public void checkInputShape(int[] actual) {
        if (!Arrays.equals(actual, input.shape)) {
            throw new InputShapeException("the interpreter's input tensor", input.shape, actual);
        }
    }

    /** The interpreter's output tensor {@code index} must have the card's shape for that index. */
    public void checkOutputShape(int index, int[] actual) {
        Output out = outputAt(index);
        if (!Arrays.equals(actual, out.shape)) {
            throw new InputShapeException("output tensor " + index + " (" + out.kind + ")", out.shape, actual);
        }
    }

    /** Check the interpreter's tensor counts and every shape against the card. */
    public void checkInterpreter(int inputCount, int[] inputShape, int outputCount, int[][] outputShapes) {
        if (inputCount != 1) {
            throw new InputShapeException("the flatbuffer has " + inputCount + " inputs; the model card describes 1");
        }
        checkInputShape(inputShape);
        if (outputCount != outputs.size()) {
            throw new InputShapeException("the flatbuffer has " + outputCount + " outputs; the model card describes "
                    + outputs.size());
        }
        for (int i = 0; i < outputCount; i++) {
            checkOutputShape(i, outputShapes[i]);
        }
    }

    public Output outputAt(int index) {
        for (Output o : outputs) {
            if (o.index == index) return o;
        }
        throw new ModelCardException("outputs", "no output with index " + index);
    }

    /** The first output of {@code kind} or {@code null}. */
    public Output outputOfKind(String kind) {
        for (Output o : outputs) {
            if (o.kind.equals(kind)) return o;
        }
        return null;
    }

    public boolean isKeypointModel() { return TASK_KEYPOINTS.equals(task); }
    public boolean isMeshModel() { return TASK_MESH.equals(task); }

    /** One line for the UI, e.g. {@code "bihrnet/bidrn keypoints_2d 256x192 uint8, 120 LceBconv2d"}. */
    public String summary() {
        return model + "/" + method + " " + task + " " + input.height() + "x" + input.width() + " " + input.dtype
                + ", " + census.lceBconv2d + " LceBconv2d" + (census.floatFallbacks > 0
                ? ", " + census.floatFallbacks + " float fallbacks" : "")
                + (provenance.isSyntheticDemo() ? ", trained on synthetic demo data only (not a real pose model)" : "");
    }

    // ------------------------------------------------------------------ helpers

    private static void check(boolean condition, String field, String message) {
        if (!condition) {
            throw new ModelCardException(field, message);
        }
    }

    private static void exactKeys(Map<String, Object> obj, List<String> keys, String field) {
        exactKeys(obj, keys, Collections.<String>emptyList(), field);
    }

    private static void exactKeys(Map<String, Object> obj, List<String> keys, List<String> optional, String field) {
        List<String> missing = new ArrayList<>();
        String prefix = "card".equals(field) ? "" : field + ".";
        for (String k : keys) {
            if (!obj.containsKey(k)) missing.add(prefix + k);
        }
        if (!missing.isEmpty()) {
            throw new ModelCardException(String.join(", ", missing), missing.size() > 1 ? "missing fields" : "missing field");
        }
        TreeSet<String> extra = new TreeSet<>(obj.keySet());
        extra.removeAll(keys);
        extra.removeAll(optional);
        if (!extra.isEmpty()) {
            List<String> quoted = new ArrayList<>();
            for (String e : extra) quoted.add("'" + e + "'");
            throw new ModelCardException(field, "unknown field" + (extra.size() > 1 ? "s " : " ") + String.join(", ", quoted));
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> object(Object value, String field) {
        check(value instanceof Map, field, "must be an object, got " + typeName(value));
        return (Map<String, Object>) value;
    }

    private static String string(Map<String, Object> obj, String key, String field) {
        Object value = obj.get(key);
        check(value instanceof String, field, "must be a string, got " + repr(value));
        return (String) value;
    }

    private static String nonEmpty(Map<String, Object> obj, String key, String field) {
        Object value = obj.get(key);
        check(value instanceof String && !((String) value).isEmpty(), field, "must be a non-empty string, got " + repr(value));
        return (String) value;
    }

    static boolean isInt(Object value) {
        return value instanceof Long;
    }

    static boolean isNumber(Object value) {
        return value instanceof Long || (value instanceof Double && Double.isFinite((Double) value));
    }

    static double num(Object value) {
        return ((Number) value).doubleValue();
    }

    private static int[] intList(Object value, String field, int length, boolean positive) {
        check(value instanceof List && ((List<?>) value).stream().allMatch(ModelCard::isInt), field,
                "must be a list of integers, got " + repr(value));
        List<?> list = (List<?>) value;
        if (length >= 0) {
            check(list.size() == length, field, "must have " + length + " entries, got " + list.size());
        }
        int[] out = new int[list.size()];
        for (int i = 0; i < out.length; i++) {
            long v = (Long) list.get(i);
            if (positive) {
                check(v > 0, field, "must be positive, got " + repr(value));
            }
            check(v <= Integer.MAX_VALUE && v >= Integer.MIN_VALUE, field, "value out of range: " + v);
            out[i] = (int) v;
        }
        return out;
    }

    private static double[] numberTriple(Object value, String field) {
        check(value instanceof List && ((List<?>) value).size() == 3
                && ((List<?>) value).stream().allMatch(ModelCard::isNumber), field,
                "must be a list of 3 numbers, got " + repr(value));
        List<?> list = (List<?>) value;
        return new double[] {num(list.get(0)), num(list.get(1)), num(list.get(2))};
    }

    private static int[][] pairs(Object value, String field, int num) {
        check(value instanceof List, field, "must be a list of [i, j] pairs");
        List<?> list = (List<?>) value;
        int[][] out = new int[list.size()][];
        for (int i = 0; i < out.length; i++) {
            Object pair = list.get(i);
            check(pair instanceof List && ((List<?>) pair).size() == 2
                            && ((List<?>) pair).stream().allMatch(ModelCard::isInt), field,
                    "entries must be [i, j] integer pairs, got " + repr(pair));
            long a = (Long) ((List<?>) pair).get(0);
            long b = (Long) ((List<?>) pair).get(1);
            check(a >= 0 && a < num && b >= 0 && b < num, field,
                    "index out of range 0.." + (num - 1) + " in " + repr(pair));
            out[i] = new int[] {(int) a, (int) b};
        }
        return out;
    }

    static int[][] deepCopy(int[][] a) {
        int[][] out = new int[a.length][];
        for (int i = 0; i < a.length; i++) out[i] = a[i].clone();
        return out;
    }

    private static List<String> listOf(String... values) {
        return Collections.unmodifiableList(Arrays.asList(values));
    }

    private static String join(List<String> values) {
        return String.join(", ", values);
    }

    private static String typeName(Object value) {
        if (value == null) return "null";
        if (value instanceof Map) return "object";
        if (value instanceof List) return "list";
        if (value instanceof String) return "string";
        if (value instanceof Boolean) return "boolean";
        return "number";
    }

    static String repr(Object value) {
        if (value == null) return "null";
        if (value instanceof String) return "'" + value + "'";
        if (value instanceof List) {
            List<String> parts = new ArrayList<>();
            for (Object v : (List<?>) value) parts.add(repr(v));
            return "[" + String.join(", ", parts) + "]";
        }
        return String.valueOf(value);
    }

    private static String toHex(byte[] bytes) {
        StringBuilder sb = new StringBuilder(bytes.length * 2);
        for (byte b : bytes) sb.append(String.format("%02x", b & 0xff));
        return sb.toString();
    }
}
