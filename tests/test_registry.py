"""The model registry and the checkpoint module: one home per fact about a model and its weights."""
import json

import numpy as np
import pytest
import tensorflow as tf

from bhpe_tf import checkpoints
from bhpe_tf.errors import InvalidInputError, MissingFileError, UnknownNameError
from bhpe_tf.models import registry
from bhpe_tf.runtime.card import TASKS
from bhpe_tf.runtime.normalization import IMAGENET, UNIT_RANGE

TINY_HRNET = dict(input_hw=(32, 32), num_joints=16, width=4, stage_modules=(1, 1, 1), num_blocks=1)


def test_every_entry_resolves_and_speaks_the_model_cards_vocabulary():
    for name, entry in registry.MODELS.items():
        assert callable(entry.builder), name
        assert entry.task in TASKS
        assert entry.normalization in ("imagenet", "unit")
    assert registry.models_of_task("keypoints_2d") == ("hrnet_w32", "bihrnet")
    assert registry.models_of_task("smplx_mesh") == ("binaryhpe", "hand4whole")


def test_paper_numbers_are_binaryhpe_table1_and_its_stated_ratios():
    """BinaryHPE's abstract: BiDRN has 22.1 % of Hand4Whole's parameters and 14.8 % of its operations."""
    entry = registry.get_model("binaryhpe")
    (fp_params, fp_ops), (params, ops) = entry.paper_numbers("fp"), entry.paper_numbers("bidrn")
    assert round(100 * params / fp_params, 1) == 22.1
    assert round(100 * ops / fp_ops, 1) == 14.8
    assert entry.paper_numbers("xnor_nok") == entry.paper_numbers("xnor")  # the LCE form counts as its paper form
    assert entry.paper_metrics("bidrn", "EHF")["MPVPE All"] == 118.3
    assert entry.paper_metrics("bnn", "EHF") == {"MPVPE All": 172.2}  # columns the paper does not give are absent
    assert registry.get_model("hrnet_w32").paper_numbers("fp") == (28.54, 7.65)
    assert registry.get_model("bihrnet").paper_numbers("bidrn") is None


def test_lookup_and_build_refuse_bad_names_and_options_in_one_line():
    with pytest.raises(UnknownNameError, match="hrnet_w32"):
        registry.get_model("hrnet")
    assert registry.get_model(" BiHRNet ").name == "bihrnet"
    with pytest.raises(InvalidInputError, match="does not take bogus; its options are: .*num_joints"):
        registry.build_model("bihrnet", method="bidrn", bogus=1)
    with pytest.raises(InvalidInputError, match="full precision only"):
        registry.build_model("hand4whole", method="bnn")
    options, accepts_any = registry.get_model("hand4whole").options()
    assert "encoder_width" in options and "method" not in options and not accepts_any  # build_binaryhpe's


def test_build_takes_height_width():
    model = registry.build_model("hrnet_w32", method="fp", **dict(TINY_HRNET, input_hw=(64, 32)))
    assert tuple(model.inputs[0].shape[1:]) == (64, 32, 3)
    assert tuple(model.outputs[0].shape[1:]) == (16, 8, 16)


def test_families_and_keypoint_layouts():
    assert registry.same_family("binaryhpe", "hand4whole")
    assert not registry.same_family("hrnet_w32", "bihrnet")
    assert [registry.keypoint_layout(k) for k in (17, 16, 133, 21)] == ["coco", "mpii", "coco_wholebody", None]


@pytest.fixture(scope="module")
def tiny_hrnet():
    return registry.build_model("hrnet_w32", method="fp", **TINY_HRNET)


def test_checkpoint_paths_of_a_training_workdir(tmp_path, tiny_hrnet):
    workdir = tmp_path / "run"
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=tiny_hrnet, step=tf.Variable(3)),
                                         str(workdir / "checkpoints"), max_to_keep=1, checkpoint_name="ckpt")
    prefix = manager.save()
    (workdir / "run.json").write_text(json.dumps({"config": {"data": {"normalize": "unit"}}}))
    recorded = {k: list(v) if isinstance(v, tuple) else v for k, v in TINY_HRNET.items() if k != "input_hw"}
    (workdir / "best.json").write_text(json.dumps({"model": "hrnet_w32", "method": "fp", "model_kwargs": recorded}))
    for path in (workdir, workdir / "checkpoints", prefix, prefix + ".index"):
        assert checkpoints.resolve(path) == ("tf", prefix)
    assert checkpoints.run_file(prefix) == workdir / "run.json"
    # the card's normalisation is the one the run trained with, not the model's default (imagenet)
    assert checkpoints.normalization_of(prefix, model_name="hrnet_w32") == UNIT_RANGE
    assert checkpoints.normalization_of(None, model_name="hrnet_w32") == IMAGENET
    # the options the run trained with rebuild the model: no --model_kwargs needed
    fresh = checkpoints.load_registered("hrnet_w32", "fp", checkpoint=prefix, input_hw=(32, 32))
    assert checkpoints.build_kwargs(prefix) == {k: tuple(v) if isinstance(v, list) else v for k, v in recorded.items()}
    assert checkpoints.build_kwargs(prefix, {"stage_modules": [1, 1, 1]}) == checkpoints.build_kwargs(prefix)  # config lists
    with pytest.raises(InvalidInputError, match="holds a 'fp' model but the method is 'bnn'"):
        checkpoints.load_registered("hrnet_w32", "bnn", checkpoint=workdir)
    for a, b in zip(fresh.weights, tiny_hrnet.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(MissingFileError, match="training workdir"):
        checkpoints.resolve(tmp_path / "nothing")


def test_restore_refuses_weights_of_another_width(tmp_path, tiny_hrnet):
    path = str(tmp_path / "w.weights.h5")
    checkpoints.save_weights(tiny_hrnet, path)
    wider = registry.build_model("hrnet_w32", method="fp", **dict(TINY_HRNET, width=8))
    with pytest.raises(InvalidInputError, match="does not fit model"):
        checkpoints.restore(wider, path)


def test_metadata_decides_before_the_build(tmp_path):
    weights = tmp_path / "imported.keras"
    weights.write_bytes(b"")
    (tmp_path / "imported.keras.meta.json").write_text(json.dumps(
        {"model": "hrnet_w32", "method": "fp", "build_kwargs": {"padding": "torch", "stage_modules": [1, 1, 1]}}))
    assert checkpoints.build_kwargs(weights, {"width": 4}) == {"padding": "torch", "stage_modules": (1, 1, 1),
                                                                "width": 4}
    with pytest.raises(InvalidInputError, match="padding='torch'"):
        checkpoints.build_kwargs(weights, {"padding": "keras"})
    with pytest.raises(InvalidInputError, match="holds a 'fp' model but the method is 'bnn'"):
        checkpoints.check_metadata(weights, model_name="hrnet_w32", method="bnn")
    with pytest.raises(InvalidInputError, match="holds a 'hrnet_w32' model but the model is 'bihrnet'"):
        checkpoints.check_metadata(weights, model_name="bihrnet", method="fp")


def test_count_grouping_splits_the_papers_modules(tiny_hrnet):
    from bhpe_tf.counting import count_model

    group, multiplicity = registry.get_model("binaryhpe").count_grouping()
    assert multiplicity == {"hand_encoder": 2, "hand_heads": 2}  # two hands per image
    group, multiplicity = registry.get_model("hrnet_w32").count_grouping()
    counts = count_model(tiny_hrnet, group=group, multiplicity=multiplicity)
    assert multiplicity is None
    assert {k for k, c in counts.items() if c.fp_params + c.binary_params} == {"stem", "stage1", "transition1", "stage2", "transition2", "stage3", "transition3",
                           "stage4", "head", "total"}
    assert sum(c.fp_params for k, c in counts.items() if k != "total") == counts["total"].fp_params
