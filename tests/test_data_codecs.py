"""The heatmap codec: targets (HRNet generate_target), decoding (HRNet get_final_preds, DARK), the flip
test, the derived geometry and the model card's ``heatmap`` block."""
import numpy as np
import pytest

from bhpe_tf.data.codecs import HeatmapCodec
from bhpe_tf.data.meta import get_meta
from bhpe_tf.data.transforms import get_affine_transform


def _hrnet_reference_target(x, y, sigma=2, heatmap=(48, 64), stride=4):
    """HRNet's generate_target written out for one joint, as a loop."""
    w, h = heatmap
    tmp = sigma * 3
    mu_x, mu_y = int(x / stride + 0.5), int(y / stride + 0.5)
    ul, br = [int(mu_x - tmp), int(mu_y - tmp)], [int(mu_x + tmp + 1), int(mu_y + tmp + 1)]
    target = np.zeros((h, w))
    if ul[0] >= w or ul[1] >= h or br[0] < 0 or br[1] < 0:
        return target, 0.0
    for yy in range(max(0, ul[1]), min(br[1], h)):
        for xx in range(max(0, ul[0]), min(br[0], w)):
            target[yy, xx] = np.exp(-((xx - mu_x) ** 2 + (yy - mu_y) ** 2) / (2 * sigma ** 2))
    return target, 1.0


@pytest.mark.parametrize("xy", [(50.3, 77.9), (1.0, 2.0), (-10.0, 100.0), (-30.0, 100.0), (190.0, 255.0),
                                (300.0, 10.0), (97.99, 130.02)])
def test_encode_matches_hrnet_loop(xy):
    hm, w = HeatmapCodec().encode(np.array([[xy[0], xy[1], 1.0]]))
    ref, ref_w = _hrnet_reference_target(*xy)
    assert hm.shape == (64, 48, 1) and w[0] == ref_w
    np.testing.assert_allclose(hm[..., 0], ref * ref_w, atol=1e-6)


def test_encode_invisible_and_nan_get_zero_weight():
    kp = np.array([[50.0, 50.0, 0.0], [np.nan, 3.0, 1.0], [60.0, 60.0, 1.0]])
    hm, w = HeatmapCodec().encode(kp)
    np.testing.assert_array_equal(w, [0, 0, 1])
    assert not hm[..., :2].any() and hm[..., 2].max() == pytest.approx(1.0)


def test_standard_decode_quarter_shift():
    hm = np.zeros((64, 48, 2), np.float32)
    hm[20, 10, 0], hm[20, 11, 0], hm[20, 9, 0] = 1.0, 0.6, 0.2  # higher right neighbour: +0.25 in x
    hm[21, 10, 0], hm[19, 10, 0] = 0.5, 0.5  # equal vertical neighbours: no shift in y
    coords, maxvals = HeatmapCodec().decode(hm)
    np.testing.assert_allclose(coords[0], [10.25, 20.0])
    np.testing.assert_allclose(coords[1], [0, 0])  # empty map: (0, 0), score 0 (HRNet's pred_mask)
    assert maxvals[0] == 1.0 and maxvals[1] == 0.0
    hm2 = np.zeros((64, 48, 1), np.float32)
    hm2[1, 1, 0], hm2[1, 2, 0] = 1.0, 0.9  # at x = 1 HRNet does not shift (1 < x is required)
    np.testing.assert_allclose(HeatmapCodec().decode(hm2)[0][0], [1, 1])


def test_dark_decoding_is_exact_on_unbiased_targets():
    rng = np.random.default_rng(0)
    kp = np.c_[rng.uniform(12, 180, 17), rng.uniform(12, 244, 17), np.ones(17)]
    codec = HeatmapCodec(unbiased=True, blur_kernel=0)
    assert codec.decoding == "dark"  # unbiased encoding goes with DARK decoding
    hm, _ = codec.encode(kp)
    coords, _ = codec.decode(hm)
    np.testing.assert_allclose(coords * 4, kp[:, :2], atol=1e-3)
    np.testing.assert_allclose(codec.decode_to_input(hm)[0], kp[:, :2], atol=1e-3)
    blurred, _ = HeatmapCodec(decoding="dark").decode(hm)  # DARK's default 11x11 blur: still close inside
    assert np.abs(blurred * 4 - kp[:, :2]).max() < 1.0
    with pytest.raises(ValueError, match="unknown heatmap decoding"):
        HeatmapCodec(decoding="soft")


def test_decode_to_image_uses_the_inverse_crop():
    center, scale = np.array([320.0, 240.0]), np.array([150.0, 200.0])
    image_pts = np.array([[300.0, 200.0], [350.0, 300.0]])
    mat = get_affine_transform(center, scale, 0, (192, 256))
    crop_pts = image_pts @ mat[:, :2].T + mat[:, 2]
    codec = HeatmapCodec(unbiased=True, blur_kernel=0)
    hm, _ = codec.encode(np.c_[crop_pts, np.ones(2)])
    out, scores = codec.decode_to_image(hm[None], centers=center[None], scales=scale[None])
    np.testing.assert_allclose(out[0], image_pts, atol=1e-2)
    assert scores.shape == (1, 2)


def test_flip_test_realigns_mirrored_heatmaps():
    pairs = get_meta("coco").flip_pairs
    rng = np.random.default_rng(3)
    kp = np.c_[rng.uniform(20, 170, 17), rng.uniform(20, 236, 17), np.ones(17)]
    codec = HeatmapCodec()
    hm, _ = codec.encode(kp)
    # what a perfect network sees on the mirrored 192-wide input: mirrored joints, swapped identities
    mirrored = kp.copy()
    mirrored[:, 0] = 191 - kp[:, 0]
    mirrored = mirrored[get_meta("coco").flip_index]
    hm_flip, _ = codec.encode(mirrored)
    back = codec.flip_back(hm_flip, pairs)
    np.testing.assert_array_equal(codec.flip_back(back, pairs), hm_flip)  # flip_back is an involution
    fused = codec.fuse_flip_test(hm, hm_flip, pairs)
    c_fused, _ = codec.argmax(fused)
    c_plain, _ = codec.argmax(hm)
    # with HRNet's one-pixel shift the mirrored estimate lands within a pixel of the direct one
    assert np.abs(c_fused - c_plain).max() <= 1
    no_shift = codec.fuse_flip_test(hm, hm_flip, pairs, shift=False)
    assert np.abs(codec.argmax(codec.flip_back(hm_flip, pairs))[0][:, 0] + 1 - c_plain[:, 0]).max() <= 1
    assert no_shift.shape == fused.shape


def test_argmax_batched_shapes():
    hm = np.random.default_rng(0).random((3, 64, 48, 5)).astype(np.float32)
    coords, vals = HeatmapCodec.argmax(hm)
    assert coords.shape == (3, 5, 2) and vals.shape == (3, 5)
    n, k = 2, 4
    y, x = np.unravel_index(np.argmax(hm[n, :, :, k]), (64, 48))
    np.testing.assert_array_equal(coords[n, k], [x, y])


# --------------------------------------------------------------------------- the codec object
@pytest.mark.parametrize("unbiased", [False, True])
def test_encode_decode_round_trip(unbiased):
    """Standard: the decoded joint is the rounded heatmap pixel (within half a heatmap pixel, plus the
    quarter offset on the Gaussian's symmetric grid it is 0). Unbiased + DARK: exact without the blur."""
    rng = np.random.default_rng(5)
    codec = HeatmapCodec(input_wh=(256, 256), sigma=2.0, unbiased=unbiased, blur_kernel=0)
    assert codec.decoding == ("dark" if unbiased else "standard")
    kp = np.c_[rng.uniform(12, 244, 16), rng.uniform(12, 244, 16), np.ones(16)]
    hm, w = codec.encode(kp)
    assert hm.shape == (64, 64, 16) and w.tolist() == [1.0] * 16
    pred, scores = codec.decode_to_input(hm)
    if unbiased:
        np.testing.assert_allclose(pred, kp[:, :2], atol=1e-3)
    else:
        np.testing.assert_allclose(pred, np.trunc(kp[:, :2] / 4 + 0.5) * 4)
        assert np.abs(pred - kp[:, :2]).max() <= 2.0
    np.testing.assert_allclose(scores, 1.0, atol=1e-6 if not unbiased else 0.2)


def test_stride_is_derived_once():
    codec = HeatmapCodec(input_wh=[192, 256])
    assert codec.input_wh == (192, 256) and codec.heatmap_wh == (48, 64) and codec.stride == 4
    np.testing.assert_array_equal(codec.stride_xy, [4.0, 4.0])
    assert HeatmapCodec(input_wh=(64, 64), heatmap_wh=(32, 32)).stride == 2
    with pytest.raises(ValueError, match="integer downscale"):
        HeatmapCodec(input_wh=(96, 128), heatmap_wh=(32, 16)).stride
    with pytest.raises(ValueError, match="heatmaps are 64x48"):
        HeatmapCodec(input_wh=(64, 64)).decode(np.zeros((64, 48, 1), np.float32))
    with pytest.raises(ValueError, match="blur_kernel"):
        HeatmapCodec(blur_kernel=4)


def test_card_block_round_trip():
    standard = HeatmapCodec(input_wh=(96, 128), sigma=3.0)
    # the block every existing card carries: exactly these keys and values
    assert standard.to_card() == {"stride": 4, "decoding": "argmax_quarter_offset"}
    back = HeatmapCodec.from_card(standard.to_card(), input_wh=(96, 128))
    assert (back.heatmap_wh, back.decoding, back.stride) == ((24, 32), "standard", 4)
    assert back.to_card() == standard.to_card()
    dark = HeatmapCodec(input_wh=(96, 128), unbiased=True, blur_kernel=7)
    assert dark.to_card() == {"stride": 4, "decoding": "dark", "blur_kernel": 7}
    back = HeatmapCodec.from_card(dark.to_card(), input_wh=(96, 128))
    assert (back.decoding, back.blur_kernel, back.heatmap_wh) == ("dark", 7, (24, 32))
    hm, _ = dark.encode(np.array([[40.0, 61.0, 1.0], [10.0, 100.0, 1.0]]))
    np.testing.assert_array_equal(back.decode(hm)[0], dark.decode(hm)[0])
    with pytest.raises(ValueError, match="unknown heatmap.decoding"):
        HeatmapCodec.from_card({"stride": 4, "decoding": "soft_argmax"}, input_wh=(96, 128))
    with pytest.raises(ValueError, match="does not divide"):
        HeatmapCodec.from_card({"stride": 5, "decoding": "argmax_quarter_offset"}, input_wh=(96, 128))


def test_from_data_config():
    codec = HeatmapCodec.from_data_config({"input_wh": [64, 64], "sigma": 1.5})
    assert (codec.input_wh, codec.heatmap_wh, codec.sigma, codec.unbiased, codec.decoding) == (
        (64, 64), (16, 16), 1.5, False, "standard")
    dark = HeatmapCodec.from_data_config({"input_wh": [64, 64], "unbiased_encoding": True})
    assert (dark.sigma, dark.unbiased, dark.decoding) == (2.0, True, "dark")
    biased_dark = HeatmapCodec.from_data_config({"input_wh": [64, 64], "decoding": "dark"})
    assert (biased_dark.unbiased, biased_dark.decoding) == (False, "dark")


def test_card_decodings_are_the_schema_enum():
    """The codec's card names are the card schema's ``heatmap.decoding`` enum (one list for the
    Python validator, the Java reader's schema test and the codec) and ``blur_kernel`` is the
    schema's one optional heatmap key."""
    from bhpe_tf.data.codecs import CARD_DECODINGS
    from bhpe_tf.runtime import card as mc

    assert sorted(CARD_DECODINGS.values()) == sorted(mc.HEATMAP_DECODINGS)
    assert mc.OPTIONAL_HEATMAP_KEYS == ("blur_kernel",)
