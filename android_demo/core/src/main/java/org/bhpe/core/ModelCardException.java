package org.bhpe.core;

/**
 * The model card is missing, is not valid JSON, does not follow schema version 1, or does not describe
 * the flatbuffer it sits next to. The message names the offending field like the Python validator
 * ({@code bhpe_tf.runtime.card.validate_model_card}): {@code "model card: input.shape: ..."}.
 */
public class ModelCardException extends BhpeException {
    private static final long serialVersionUID = 1L;

    private final String field;

    public ModelCardException(String field, String message) {
        super("model card: " + field + ": " + message);
        this.field = field;
    }

    public ModelCardException(String field, String message, Throwable cause) {
        super("model card: " + field + ": " + message, cause);
        this.field = field;
    }

    /** The dotted path of the offending field ({@code "input.shape"}, {@code "outputs[1].kind"}, {@code "json"}). */
    public String field() {
        return field;
    }
}
