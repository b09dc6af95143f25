package org.bhpe.core;

import java.util.Arrays;

/** A tensor of the loaded interpreter (or a buffer handed to the core) does not have the shape the model card declares. */
public class InputShapeException extends BhpeException {
    private static final long serialVersionUID = 1L;

    private final int[] expected;
    private final int[] actual;

    public InputShapeException(String what, int[] expected, int[] actual) {
        super(what + " has shape " + Arrays.toString(actual) + " but the model card declares "
                + Arrays.toString(expected) + "; the .tflite and its .json card do not belong together (copy both again with `make android-assets`)");
        this.expected = expected.clone();
        this.actual = actual.clone();
    }

    public InputShapeException(String message) {
        super(message);
        this.expected = new int[0];
        this.actual = new int[0];
    }

    public int[] expected() {
        return expected.clone();
    }

    public int[] actual() {
        return actual.clone();
    }
}
