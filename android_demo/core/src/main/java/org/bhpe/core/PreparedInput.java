package org.bhpe.core;

import java.nio.ByteBuffer;

/** What {@link Preprocessor#prepare} produced: the crop, the tensor to feed, and the geometry to map results back. */
public final class PreparedInput {
    private final byte[] crop;
    /** The input tensor (direct, native order, position 0), ready for {@code Interpreter.run}. Reused by the next call. */
    public final ByteBuffer tensor;
    public final CenterScale region;
    /** Image -> crop (the matrix given to the warp). */
    public final Affine imageToCrop;
    public final int cropWidth;
    public final int cropHeight;

    PreparedInput(byte[] crop, ByteBuffer tensor, CenterScale region, Affine imageToCrop, int cropWidth, int cropHeight) {
        this.crop = crop;
        this.tensor = tensor;
        this.region = region;
        this.imageToCrop = imageToCrop;
        this.cropWidth = cropWidth;
        this.cropHeight = cropHeight;
    }

    /** The RGB crop, {@code cropHeight * cropWidth * 3} bytes (a copy). */
    public byte[] cropRgb() {
        return crop.clone();
    }

    /** Crop pixel -> image pixel ({@code get_affine_transform(..., inv=True)} for the crop size). */
    public Affine cropToImage() {
        return region.transform(cropWidth, cropHeight, true);
    }
}
