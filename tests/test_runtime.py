"""The runtime package: the model card's one JSON Schema (the Python validator's keys and allowed values,
every card the converter writes conforms to it, a broken card is one line naming the key) and the named
input normalisations shared by the data pipeline, the converter and the predictors."""
import copy
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import bhpe_tf  # noqa: F401
from bhpe_tf.errors import InvalidInputError, UnknownNameError
from bhpe_tf.runtime import card as mc
from bhpe_tf.runtime.normalization import IMAGENET, NAMED_NORMALIZATIONS, UNIT_RANGE, named_normalization

REPO = Path(__file__).resolve().parents[1]


def _objects(schema, card, path=""):
    """``(field, schema node, card object)`` for every object of the schema present in ``card``."""
    if "items" in schema and isinstance(card, list):
        for i, item in enumerate(card):
            yield from _objects(schema["items"], item, f"{path}[{i}]")
        return
    if not isinstance(card, dict) or "required" not in schema:
        return
    yield path or "card", schema, card
    for key, node in schema["properties"].items():
        yield from _objects(node, card.get(key), f"{path}.{key}" if path else key)


def _conforms(card):
    """Assert ``card`` has the schema's keys (none missing, none unknown) and its enum / const values."""
    for field, schema, obj in _objects(mc.SCHEMA, card):
        assert set(schema["required"]) <= set(obj) <= set(schema["properties"]), (field, sorted(obj))
        for key, rule in schema["properties"].items():
            if key in obj and "enum" in rule:
                assert obj[key] in rule["enum"], (field, key, obj[key])
            if key in obj and "const" in rule:
                assert obj[key] == rule["const"], (field, key, obj[key])


@pytest.fixture(scope="module")
def written_card(tmp_path_factory):
    """The card the converter writes for a tiny float model (stock TFLite converter: seconds)."""
    from bhpe_tf.conversion import export as ex

    sys.path.insert(0, str(REPO / "tests"))
    from _tiny_models import tiny_keypoint_model

    tf.keras.utils.set_random_seed(0)
    result = ex.export(tiny_keypoint_model("fp"), tmp_path_factory.mktemp("card") / "fp.tflite",
                       model_name="hrnet_w32", method="fp", converter="tflite")
    return json.loads(result.card_path.read_text()), result.tflite_path.read_bytes()


def test_schema_file_is_package_data_and_well_formed():
    assert mc.SCHEMA_FILE.name == "model_card.schema.json" and mc.SCHEMA_FILE.parent == Path(mc.__file__).parent
    assert "bhpe_tf.runtime = *.json" in (REPO / "setup.cfg").read_text()
    for field, schema, _ in _objects(mc.SCHEMA, json.loads(json.dumps(_every_object()))):
        assert schema["additionalProperties"] is False, field
        assert set(schema["required"]) <= set(schema["properties"]), field


def _every_object():
    """A skeleton with every object of the schema, to walk the whole schema."""
    def fill(schema):
        if "items" in schema:
            return [fill(schema["items"])]
        return {key: fill(node) for key, node in schema.get("properties", {}).items()}
    return fill(mc.SCHEMA)


def test_validator_keys_and_values_come_from_the_schema():
    from bhpe_tf.conversion.weight_storage import WEIGHT_STORAGES

    props = mc.SCHEMA["properties"]
    assert mc.TOP_KEYS == tuple(mc.SCHEMA["required"]) and mc.OPTIONAL_TOP_KEYS == ("provenance",)
    assert mc.FORMAT == "bhpe-tf-model-card" and mc.VERSION == 1
    assert mc.TASKS == tuple(props["task"]["enum"]) == ("keypoints_2d", "smplx_mesh")
    assert mc.CENSUS_KEYS == tuple(props["census"]["required"])
    assert mc.OUTPUT_KINDS == tuple(props["outputs"]["items"]["properties"]["kind"]["enum"])
    # the card's storages are the converter's (the schema is the contract file the Java core reads too)
    assert mc.FLOAT_WEIGHTS == tuple(WEIGHT_STORAGES)
    assert mc.OPTIONAL_CONVERTER_KEYS == ("float_weights",)


def test_every_card_the_converter_writes_conforms_to_the_schema(written_card, tmp_path):
    card, flatbuffer = written_card
    _conforms(card)
    assert mc.validate_model_card(card, flatbuffer) == card
    # and the cards the other tests build by hand
    from test_convert import _card

    _conforms(_card())
    mc.validate_model_card(_card())


def _object_at(card, field):
    return {f: obj for f, _, obj in _objects(mc.SCHEMA, card)}[field]


def test_a_broken_card_is_one_line_naming_the_key(written_card):
    card, _ = written_card
    checked = 0
    for field, schema, _ in list(_objects(mc.SCHEMA, card)):
        for key in schema["required"]:
            broken = copy.deepcopy(card)
            _object_at(broken, field).pop(key)
            name = key if field == "card" else f"{field}.{key}"
            with pytest.raises(InvalidInputError) as err:
                mc.validate_model_card(broken)
            assert str(err.value) == f"model card: {name}: missing field", str(err.value)
            checked += 1
        broken = copy.deepcopy(card)
        _object_at(broken, field)["not_in_the_schema"] = 1
        with pytest.raises(InvalidInputError) as err:
            mc.validate_model_card(broken)
        assert str(err.value) == f"model card: {field}: unknown field 'not_in_the_schema'", str(err.value)
    assert checked >= 40
    for key, wrong in (("task", "segmentation"), ("version", 2)):
        with pytest.raises(InvalidInputError) as err:
            mc.validate_model_card({**card, key: wrong})
        assert str(err.value).startswith(f"model card: {key}: ") and "\n" not in str(err.value)


def test_heatmap_block_of_a_dark_codec_validates_and_its_kernel_only_with_dark(written_card):
    from bhpe_tf.data.codecs import HeatmapCodec

    card, _ = written_card
    height, width = card["input"]["shape"][1:3]
    stride = card["heatmap"]["stride"]
    dark = HeatmapCodec(input_wh=(width, height), heatmap_wh=(width // stride, height // stride), unbiased=True,
                        blur_kernel=5)
    assert mc.validate_model_card({**card, "heatmap": dark.to_card()})["heatmap"]["blur_kernel"] == 5
    for heatmap, message in (({**card["heatmap"], "blur_kernel": 5}, "only for decoding 'dark'"),
                             ({**dark.to_card(), "blur_kernel": 4}, "odd positive integer")):
        with pytest.raises(InvalidInputError, match="heatmap.blur_kernel") as err:
            mc.validate_model_card({**card, "heatmap": heatmap})
        assert message in str(err.value)

def test_named_normalizations_are_the_training_configs_names():
    from bhpe_tf.data import pipeline, synthetic

    assert named_normalization("imagenet") is IMAGENET and named_normalization("unit") is UNIT_RANGE
    with pytest.raises(UnknownNameError, match="unknown normalization 'bgr'; valid normalizations are: imagenet, unit"):
        named_normalization("bgr")
    # one home of the ImageNet statistics: the data pipeline's arrays are the runtime's values
    for module in (pipeline, synthetic):
        np.testing.assert_array_equal(module.IMAGENET_MEAN, np.float32(IMAGENET.mean))
        np.testing.assert_array_equal(module.IMAGENET_STD, np.float32(IMAGENET.std))
    image = np.random.default_rng(0).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    for name, normalization in NAMED_NORMALIZATIONS.items():
        np.testing.assert_allclose(synthetic.normalize_image(image, name), normalization.apply(image), rtol=1e-5,
                                   atol=1e-5)
    # the training configs' ``data.normalize`` names are these (plus "uint8": normalised in-graph)
    for name in (*NAMED_NORMALIZATIONS, "uint8"):
        pipeline.PipelineConfig(normalize=name)
