package org.bhpe.core;

/**
 * A 2x3 affine map {@code (x, y) -> (m00 x + m01 y + m02, m10 x + m11 y + m12)} in double precision,
 * with the OpenCV routines the Python pipeline uses, reproduced bit for bit:
 * {@link #fromPoints} is {@code cv2.getAffineTransform} (a 6x6 system solved by OpenCV's partial-pivot
 * LU, same operation order) and {@link #invert} is {@code cv2.invertAffineTransform}.
 */
public final class Affine {
    public final double m00, m01, m02, m10, m11, m12;

    public Affine(double m00, double m01, double m02, double m10, double m11, double m12) {
        this.m00 = m00;
        this.m01 = m01;
        this.m02 = m02;
        this.m10 = m10;
        this.m11 = m11;
        this.m12 = m12;
    }

    public static Affine identity() {
        return new Affine(1, 0, 0, 0, 1, 0);
    }

    /** Row-major {@code [m00, m01, m02, m10, m11, m12]}. */
    public double[] toArray() {
        return new double[] {m00, m01, m02, m10, m11, m12};
    }

    public static Affine fromArray(double[] m) {
        if (m.length != 6) {
            throw new IllegalArgumentException("an affine needs 6 values, got " + m.length);
        }
        return new Affine(m[0], m[1], m[2], m[3], m[4], m[5]);
    }

    public double applyX(double x, double y) {
        return x * m00 + y * m01 + m02;
    }

    public double applyY(double x, double y) {
        return x * m10 + y * m11 + m12;
    }

    /** {@code cv2.invertAffineTransform}. Throws when the map is singular. */
    public Affine invert() {
        double d = m00 * m11 - m01 * m10;
        if (d == 0 || !Double.isFinite(d)) {
            throw new IllegalArgumentException("singular affine transform");
        }
        d = 1.0 / d;
        double a11 = m11 * d, a22 = m00 * d, a12 = -m01 * d, a21 = -m10 * d;
        double b1 = -a11 * m02 - a12 * m12;
        double b2 = -a21 * m02 - a22 * m12;
        return new Affine(a11, a12, b1, a21, a22, b2);
    }

    /**
     * {@code cv2.getAffineTransform(src, dst)}: the affine sending the three {@code src} points to the
     * three {@code dst} points. Points are given as {@code float} like OpenCV's {@code Point2f}.
     */
    public static Affine fromPoints(float[][] src, float[][] dst) {
        double[][] a = new double[6][6];
        double[] b = new double[6];
        for (int i = 0; i < 3; i++) {
            a[2 * i][0] = a[2 * i + 1][3] = src[i][0];
            a[2 * i][1] = a[2 * i + 1][4] = src[i][1];
            a[2 * i][2] = a[2 * i + 1][5] = 1.0;
            b[2 * i] = dst[i][0];
            b[2 * i + 1] = dst[i][1];
        }
        solveLu(a, b);
        return new Affine(b[0], b[1], b[2], b[3], b[4], b[5]);
    }

    /** OpenCV's {@code LUImpl} (partial pivoting, in place): {@code b} becomes the solution. */
    private static void solveLu(double[][] a, double[] b) {
        int m = b.length;
        for (int i = 0; i < m; i++) {
            int k = i;
            for (int j = i + 1; j < m; j++) {
                if (Math.abs(a[j][i]) > Math.abs(a[k][i])) {
                    k = j;
                }
            }
            if (Math.abs(a[k][i]) < 2.220446049250313e-16 * 10) {
                throw new IllegalArgumentException("degenerate point triplet: no affine transform");
            }
            if (k != i) {
                double[] row = a[i];
                a[i] = a[k];
                a[k] = row;
                double t = b[i];
                b[i] = b[k];
                b[k] = t;
            }
            double d = -1.0 / a[i][i];
            for (int j = i + 1; j < m; j++) {
                double alpha = a[j][i] * d;
                for (int c = i + 1; c < m; c++) {
                    a[j][c] += alpha * a[i][c];
                }
                b[j] += alpha * b[i];
            }
        }
        for (int i = m - 1; i >= 0; i--) {
            double s = b[i];
            for (int c = i + 1; c < m; c++) {
                s -= a[i][c] * b[c];
            }
            b[i] = s / a[i][i];
        }
    }

    @Override
    public String toString() {
        return String.format("[[%g, %g, %g], [%g, %g, %g]]", m00, m01, m02, m10, m11, m12);
    }
}
