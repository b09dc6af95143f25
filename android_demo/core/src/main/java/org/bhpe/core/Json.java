package org.bhpe.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small strict JSON parser (RFC 8259), written here because the core must not depend on a library
 * (Android has {@code org.json}, a plain JVM has nothing). Objects become {@code Map<String, Object>}
 * (insertion ordered, unmodifiable), arrays {@code List<Object>}, strings {@code String}, {@code true} /
 * {@code false} {@code Boolean}, {@code null} Java {@code null} (use {@code containsKey} to tell it from a
 * missing key), numbers {@code Long} when written without fraction or exponent, else {@code Double}.
 *
 * <p>Strict: no comments, no trailing commas, no NaN / Infinity, no leading zeros, no control
 * characters in strings, no duplicate keys, nothing but whitespace after the value.
 */
public final class Json {
    /** Syntax error with the character offset where it was found. */
    public static final class ParseException extends Exception {
        private static final long serialVersionUID = 1L;
        private final int offset;

        ParseException(String message, int offset) {
            super(message + " at offset " + offset);
            this.offset = offset;
        }

        public int offset() {
            return offset;
        }
    }

    private static final int MAX_DEPTH = 512;

    private final String text;
    private int pos;
    private int depth;

    private Json(String text) {
        this.text = text;
    }

    /** Parse one JSON value from {@code text}. */
    public static Object parse(String text) throws ParseException {
        if (text == null) {
            throw new ParseException("no text", 0);
        }
        Json parser = new Json(text);
        if (text.startsWith("\uFEFF")) {
            parser.pos = 1;  // tolerate a UTF-8 byte order mark
        }
        parser.skipWhitespace();
        Object value = parser.readValue();
        parser.skipWhitespace();
        if (parser.pos != text.length()) {
            throw new ParseException("unexpected " + parser.describe() + " after the JSON value", parser.pos);
        }
        return value;
    }

    private String describe() {
        if (pos >= text.length()) {
            return "end of text";
        }
        char c = text.charAt(pos);
        return c < 0x20 ? String.format("control character U+%04X", (int) c) : "'" + c + "'";
    }

    private void skipWhitespace() {
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                pos++;
            } else {
                break;
            }
        }
    }

    private Object readValue() throws ParseException {
        if (pos >= text.length()) {
            throw new ParseException("unexpected end of text, expected a value", pos);
        }
        char c = text.charAt(pos);
        switch (c) {
            case '{':
                return readObject();
            case '[':
                return readArray();
            case '"':
                return readString();
            case 't':
                expectWord("true");
                return Boolean.TRUE;
            case 'f':
                expectWord("false");
                return Boolean.FALSE;
            case 'n':
                expectWord("null");
                return null;
            default:
                if (c == '-' || (c >= '0' && c <= '9')) {
                    return readNumber();
                }
                throw new ParseException("unexpected " + describe() + ", expected a value", pos);
        }
    }

    private void expectWord(String word) throws ParseException {
        if (!text.startsWith(word, pos)) {
            throw new ParseException("invalid literal, expected '" + word + "'", pos);
        }
        pos += word.length();
    }

    private void enter() throws ParseException {
        if (++depth > MAX_DEPTH) {
            throw new ParseException("nesting deeper than " + MAX_DEPTH, pos);
        }
    }

    private Map<String, Object> readObject() throws ParseException {
        enter();
        pos++;  // '{'
        Map<String, Object> map = new LinkedHashMap<>();
        skipWhitespace();
        if (pos < text.length() && text.charAt(pos) == '}') {
            pos++;
            depth--;
            return Collections.unmodifiableMap(map);
        }
        while (true) {
            skipWhitespace();
            if (pos >= text.length() || text.charAt(pos) != '"') {
                throw new ParseException("unexpected " + describe() + ", expected a string key", pos);
            }
            int keyPos = pos;
            String key = readString();
            if (map.containsKey(key)) {
                throw new ParseException("duplicate key \"" + key + "\"", keyPos);
            }
            skipWhitespace();
            if (pos >= text.length() || text.charAt(pos) != ':') {
                throw new ParseException("unexpected " + describe() + ", expected ':'", pos);
            }
            pos++;
            skipWhitespace();
            map.put(key, readValue());
            skipWhitespace();
            if (pos < text.length() && text.charAt(pos) == ',') {
                pos++;
                continue;
            }
            if (pos < text.length() && text.charAt(pos) == '}') {
                pos++;
                depth--;
                return Collections.unmodifiableMap(map);
            }
            throw new ParseException("unexpected " + describe() + ", expected ',' or '}'", pos);
        }
    }

    private List<Object> readArray() throws ParseException {
        enter();
        pos++;  // '['
        List<Object> list = new ArrayList<>();
        skipWhitespace();
        if (pos < text.length() && text.charAt(pos) == ']') {
            pos++;
            depth--;
            return Collections.unmodifiableList(list);
        }
        while (true) {
            skipWhitespace();
            list.add(readValue());
            skipWhitespace();
            if (pos < text.length() && text.charAt(pos) == ',') {
                pos++;
                continue;
            }
            if (pos < text.length() && text.charAt(pos) == ']') {
                pos++;
                depth--;
                return Collections.unmodifiableList(list);
            }
            throw new ParseException("unexpected " + describe() + ", expected ',' or ']'", pos);
        }
    }

    private String readString() throws ParseException {
        int start = pos;
        pos++;  // opening quote
        StringBuilder sb = new StringBuilder();
        while (true) {
            if (pos >= text.length()) {
                throw new ParseException("unterminated string", start);
            }
            char c = text.charAt(pos++);
            if (c == '"') {
                return sb.toString();
            }
            if (c < 0x20) {
                throw new ParseException(String.format("control character U+%04X in a string", (int) c), pos - 1);
            }
            if (c != '\\') {
                sb.append(c);
                continue;
            }
            if (pos >= text.length()) {
                throw new ParseException("unterminated escape", pos);
            }
            char e = text.charAt(pos++);
            switch (e) {
                case '"': sb.append('"'); break;
                case '\\': sb.append('\\'); break;
                case '/': sb.append('/'); break;
                case 'b': sb.append('\b'); break;
                case 'f': sb.append('\f'); break;
                case 'n': sb.append('\n'); break;
                case 'r': sb.append('\r'); break;
                case 't': sb.append('\t'); break;
                case 'u':
                    if (pos + 4 > text.length()) {
                        throw new ParseException("truncated \\u escape", pos - 2);
                    }
                    int code = 0;
                    for (int i = 0; i < 4; i++) {
                        int digit = Character.digit(text.charAt(pos + i), 16);
                        if (digit < 0) {
                            throw new ParseException("invalid \\u escape", pos - 2);
                        }
                        code = code * 16 + digit;
                    }
                    pos += 4;
                    sb.append((char) code);
                    break;
                default:
                    throw new ParseException("invalid escape '\\" + e + "'", pos - 2);
            }
        }
    }

    private Number readNumber() throws ParseException {
        int start = pos;
        boolean integral = true;
        if (text.charAt(pos) == '-') {
            pos++;
        }
        if (pos >= text.length() || !isDigit(text.charAt(pos))) {
            throw new ParseException("invalid number", start);
        }
        if (text.charAt(pos) == '0') {
            pos++;
            if (pos < text.length() && isDigit(text.charAt(pos))) {
                throw new ParseException("leading zero in a number", start);
            }
        } else {
            while (pos < text.length() && isDigit(text.charAt(pos))) {
                pos++;
            }
        }
        if (pos < text.length() && text.charAt(pos) == '.') {
            integral = false;
            pos++;
            if (pos >= text.length() || !isDigit(text.charAt(pos))) {
                throw new ParseException("digit expected after '.'", pos);
            }
            while (pos < text.length() && isDigit(text.charAt(pos))) {
                pos++;
            }
        }
        if (pos < text.length() && (text.charAt(pos) == 'e' || text.charAt(pos) == 'E')) {
            integral = false;
            pos++;
            if (pos < text.length() && (text.charAt(pos) == '+' || text.charAt(pos) == '-')) {
                pos++;
            }
            if (pos >= text.length() || !isDigit(text.charAt(pos))) {
                throw new ParseException("digit expected in the exponent", pos);
            }
            while (pos < text.length() && isDigit(text.charAt(pos))) {
                pos++;
            }
        }
        String literal = text.substring(start, pos);
        if (integral) {
            try {
                return Long.parseLong(literal);
            } catch (NumberFormatException tooLarge) {
                throw new ParseException("integer out of 64-bit range", start);
            }
        }
        double value = Double.parseDouble(literal);
        if (Double.isInfinite(value)) {
            throw new ParseException("number out of double range", start);
        }
        return value;
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }
}
