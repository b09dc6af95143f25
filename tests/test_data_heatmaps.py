"""Heatmap targets (HRNet generate_target), decoding (HRNet get_final_preds, DARK) and the flip test."""
import numpy as np
import pytest

from bhpe_tf.data.heatmaps import (decode_heatmaps, decode_to_image, encode_heatmaps, flip_back, fuse_flip_test,
                                   get_max_preds)
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
    hm, w = encode_heatmaps(np.array([[xy[0], xy[1], 1.0]]))
    ref, ref_w = _hrnet_reference_target(*xy)
    assert hm.shape == (64, 48, 1) and w[0] == ref_w
    np.testing.assert_allclose(hm[..., 0], ref * ref_w, atol=1e-6)


def test_encode_invisible_and_nan_get_zero_weight():
    kp = np.array([[50.0, 50.0, 0.0], [np.nan, 3.0, 1.0], [60.0, 60.0, 1.0]])
    hm, w = encode_heatmaps(kp)
    np.testing.assert_array_equal(w, [0, 0, 1])
    assert not hm[..., :2].any() and hm[..., 2].max() == pytest.approx(1.0)


def test_standard_decode_quarter_shift():
    hm = np.zeros((64, 48, 2), np.float32)
    hm[20, 10, 0], hm[20, 11, 0], hm[20, 9, 0] = 1.0, 0.6, 0.2  # higher right neighbour: +0.25 in x
    hm[21, 10, 0], hm[19, 10, 0] = 0.5, 0.5  # equal vertical neighbours: no shift in y
    coords, maxvals = decode_heatmaps(hm)
    np.testing.assert_allclose(coords[0], [10.25, 20.0])
    np.testing.assert_allclose(coords[1], [0, 0])  # empty map: (0, 0), score 0 (HRNet's pred_mask)
    assert maxvals[0] == 1.0 and maxvals[1] == 0.0
    hm2 = np.zeros((64, 48, 1), np.float32)
    hm2[1, 1, 0], hm2[1, 2, 0] = 1.0, 0.9  # at x = 1 HRNet does not shift (1 < x is required)
    np.testing.assert_allclose(decode_heatmaps(hm2)[0][0], [1, 1])


def test_dark_decoding_is_exact_on_unbiased_targets():
    rng = np.random.default_rng(0)
    kp = np.c_[rng.uniform(12, 180, 17), rng.uniform(12, 244, 17), np.ones(17)]
    hm, _ = encode_heatmaps(kp, unbiased=True)
    coords, _ = decode_heatmaps(hm, method="dark", blur_kernel=None)
    np.testing.assert_allclose(coords * 4, kp[:, :2], atol=1e-3)
    blurred, _ = decode_heatmaps(hm, method="dark")  # DARK's default 11x11 blur: still close inside
    assert np.abs(blurred * 4 - kp[:, :2]).max() < 1.0
    with pytest.raises(ValueError, match="decoding method"):
        decode_heatmaps(hm, method="soft")


def test_decode_to_image_uses_the_inverse_crop():
    center, scale = np.array([320.0, 240.0]), np.array([150.0, 200.0])
    image_pts = np.array([[300.0, 200.0], [350.0, 300.0]])
    mat = get_affine_transform(center, scale, 0, (192, 256))
    crop_pts = image_pts @ mat[:, :2].T + mat[:, 2]
    hm, _ = encode_heatmaps(np.c_[crop_pts, np.ones(2)], unbiased=True)
    out, scores = decode_to_image(hm[None], centers=center[None], scales=scale[None], method="dark", blur_kernel=None)
    np.testing.assert_allclose(out[0], image_pts, atol=1e-2)
    assert scores.shape == (1, 2)


def test_flip_test_realigns_mirrored_heatmaps():
    pairs = get_meta("coco").flip_pairs
    rng = np.random.default_rng(3)
    kp = np.c_[rng.uniform(20, 170, 17), rng.uniform(20, 236, 17), np.ones(17)]
    hm, _ = encode_heatmaps(kp)
    # what a perfect network sees on the mirrored 192-wide input: mirrored joints, swapped identities
    mirrored = kp.copy()
    mirrored[:, 0] = 191 - kp[:, 0]
    mirrored = mirrored[get_meta("coco").flip_index]
    hm_flip, _ = encode_heatmaps(mirrored)
    back = flip_back(hm_flip, pairs)
    np.testing.assert_array_equal(flip_back(back, pairs), hm_flip)  # flip_back is an involution
    fused = fuse_flip_test(hm, hm_flip, pairs)
    c_fused, _ = get_max_preds(fused)
    c_plain, _ = get_max_preds(hm)
    # with HRNet's one-pixel shift the mirrored estimate lands within a pixel of the direct one
    assert np.abs(c_fused - c_plain).max() <= 1
    no_shift = fuse_flip_test(hm, hm_flip, pairs, shift=False)
    assert np.abs(get_max_preds(flip_back(hm_flip, pairs))[0][:, 0] + 1 - c_plain[:, 0]).max() <= 1
    assert no_shift.shape == fused.shape


def test_get_max_preds_batched_shapes():
    hm = np.random.default_rng(0).random((3, 64, 48, 5)).astype(np.float32)
    coords, vals = get_max_preds(hm)
    assert coords.shape == (3, 5, 2) and vals.shape == (3, 5)
    n, k = 2, 4
    y, x = np.unravel_index(np.argmax(hm[n, :, :, k]), (64, 48))
    np.testing.assert_array_equal(coords[n, k], [x, y])
