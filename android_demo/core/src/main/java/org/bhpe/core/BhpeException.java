package org.bhpe.core;

/**
 * Base of the typed errors of the core. They are unchecked so that Kotlin and Java callers alike can
 * catch one type ({@code BhpeException}) and show {@link #getMessage()} to the user instead of crashing.
 */
public class BhpeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public BhpeException(String message) {
        super(message);
    }

    public BhpeException(String message, Throwable cause) {
        super(message, cause);
    }
}
