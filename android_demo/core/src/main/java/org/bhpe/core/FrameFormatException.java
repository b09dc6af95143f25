package org.bhpe.core;

/**
 * A camera frame or bitmap the core cannot read: unsupported pixel format, inconsistent strides, a
 * buffer too small for the declared size, or a rotation that is not a multiple of 90 degrees.
 */
public class FrameFormatException extends BhpeException {
    private static final long serialVersionUID = 1L;

    public FrameFormatException(String message) {
        super(message);
    }
}
