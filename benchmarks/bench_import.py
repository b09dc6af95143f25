"""Import time and file sizes of ``bhpe-import`` at the official sizes, and the FP32 TFLite of HRNet-W32.

    .venv/bin/python benchmarks/bench_import.py [--workdir bench_import_out] [--skip hand4whole]

No official file can be downloaded here, so each checkpoint is written by the PyTorch references of
``tests/torch_reference.py`` (the official module names and shapes, random weights and BN
statistics): the same number and size of tensors as the real files, hence the same import work.
Rows: HRNet-W32 / W48 COCO pose (256x192), the ImageNet HRNet-W32 (classification file),
Hand4Whole from torchvision ResNet-50 + ResNet-18, and a Hand4Whole snapshot (512x384). For each:
the source size, the time to read / build / map / write, the ``.keras`` and ``.meta.json`` sizes
and Keras-vs-PyTorch agreement on a seeded input (HRNet outputs, Hand4Whole body-encoder features).
Then HRNet-W32 COCO through ``converters/convert.py`` (FP32 TFLite, stock converter): time, size,
TFLite-vs-PyTorch. With random weights no accuracy can be measured: that needs your official file.
"""
import json
import os
import sys
import time
from pathlib import Path

import bhpe_tf  # noqa: F401  (Keras 2 before TensorFlow)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from absl import flags  # noqa: E402
from torch_reference import Hand4WholeSnapshot, PoseHRNet, TorchvisionResNet, randomize_  # noqa: E402

from bhpe_tf import cli  # noqa: E402
from bhpe_tf import import_weights as iw  # noqa: E402

ROWS = ("hrnet_w32", "hrnet_w48", "hrnet_w32_imagenet", "hand4whole_resnets", "hand4whole_snapshot")


def rel(got, want):
    return float(np.max(np.abs(np.asarray(got, np.float64) - want)) / np.max(np.abs(want)))


def sample(size):
    return np.random.default_rng(0).normal(size=(1, *size, 3)).astype(np.float32)


def torch_nhwc(module_fn, x):
    with torch.no_grad():
        return module_fn(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy().transpose(0, 2, 3, 1)


def mb(path):
    return os.path.getsize(path) / 1e6


def define_flags(flag_values=flags.FLAGS):
    flags.DEFINE_string("workdir", "bench_import_out", "where the checkpoints, imports and bench_import.json go",
                        flag_values=flag_values)
    flags.DEFINE_string("skip", "", "comma-separated rows to skip: " + ", ".join(ROWS), flag_values=flag_values)


def main(argv):
    del argv
    args = flags.FLAGS
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    skip = set(filter(None, args.skip.split(",")))
    results = []

    def run(row, files, *, model, reference_fn, size, features=None, **kwargs):
        if row in skip:
            return None
        import tensorflow as tf

        tf.keras.backend.clear_session()
        out = work / f"{row}.keras"
        result = iw.import_checkpoint(model=model, source=files[0], face_source=files[1] if len(files) > 1 else None,
                                      output=out, log=lambda *a: None, **kwargs)
        x = sample(size)
        keras_model = result.model if features is None else features(result.model)
        agreement = rel(keras_model(x, training=False).numpy(), torch_nhwc(reference_fn, x))
        record = {"row": row, "source_mb": round(sum(mb(f) for f in files), 1),
                  "tensors": result.plan.tensor_count, "params_m": round(result.model.count_params() / 1e6, 2),
                  **{f"{k}_s": round(v, 1) for k, v in result.seconds.items()},
                  "keras_mb": round(mb(out), 1), "meta_kb": round(os.path.getsize(result.meta_path) / 1e3, 1),
                  "rel_diff_vs_pytorch": agreement}
        print(json.dumps(record), flush=True)
        results.append(record)
        return result

    # HRNet pose files (COCO 17 joints, 256x192 as the official w32/w48_256x192 models)
    for width in (32, 48):
        row = f"hrnet_w{width}"
        if row in skip:
            continue
        ref = randomize_(PoseHRNet(width=width, num_joints=17), seed=width)
        path = work / f"pose_hrnet_w{width}_256x192.pth"
        torch.save(ref.state_dict(), path)
        run(row, [path], model=row, reference_fn=ref, size=(256, 192))
    if "hrnet_w32_imagenet" not in skip:
        ref = randomize_(PoseHRNet(width=32, imagenet_head=True), seed=1)
        path = work / "hrnet_w32-36af842e.pth"
        torch.save(ref.state_dict(), path)
        import tensorflow as tf

        run("hrnet_w32_imagenet", [path], model="hrnet_w32", reference_fn=lambda t: ref.features(t)[0],
            size=(256, 192),
            features=lambda m: tf.keras.Model(m.inputs, m.get_layer("stage4_m3_fuse_0_act").output))
    body = lambda m: m.get_layer("body_encoder")  # noqa: E731  (features of the body encoder, 256x192 input)
    if "hand4whole_resnets" not in skip:
        r50, r18 = randomize_(TorchvisionResNet(50), seed=2), randomize_(TorchvisionResNet(18), seed=3)
        torch.save(r50.state_dict(), work / "resnet50-0676ba61.pth")
        torch.save(r18.state_dict(), work / "resnet18-f37072fd.pth")
        run("hand4whole_resnets", [work / "resnet50-0676ba61.pth", work / "resnet18-f37072fd.pth"],
            model="hand4whole", reference_fn=lambda t: r50.stages(t)[-1], size=(256, 192), features=body)
    if "hand4whole_snapshot" not in skip:
        snapshot = randomize_(Hand4WholeSnapshot(), seed=4)
        torch.save({"epoch": 6, "network": {f"module.{k}": v for k, v in snapshot.state_dict().items()}},
                   work / "snapshot_6.pth.tar")
        run("hand4whole_snapshot", [work / "snapshot_6.pth.tar"], model="hand4whole",
            reference_fn=lambda t: snapshot.backbone.stages(t)[-1], size=(256, 192), features=body)

    if "hrnet_w32" not in skip:  # the imported COCO HRNet-W32 -> FP32 TFLite with its model card
        import tensorflow as tf

        from bhpe_tf.conversion import export

        tf.keras.backend.clear_session()
        started = time.perf_counter()
        converted = export.run_from_flags(export.options(model="hrnet_w32", method="fp",
                                                         checkpoint=str(work / "hrnet_w32.keras"),
                                                         output=str(work / "hrnet_w32.tflite")))
        seconds = time.perf_counter() - started
        interp = tf.lite.Interpreter(model_content=converted.tflite_path.read_bytes())
        interp.allocate_tensors()
        x = sample((256, 192))
        interp.set_tensor(interp.get_input_details()[0]["index"], x)
        interp.invoke()
        lite = interp.get_tensor(interp.get_output_details()[0]["index"])
        ref = randomize_(PoseHRNet(width=32, num_joints=17), seed=32)  # the same seed: the same weights
        record = {"row": "hrnet_w32 -> FP32 TFLite", "convert_s": round(seconds, 1),
                  "tflite_mb": round(mb(converted.tflite_path), 1),
                  "card_parity_rel": converted.card["parity"]["max_abs_diff"] / converted.card["parity"]["output_scale"],
                  "rel_diff_tflite_vs_pytorch": rel(lite, torch_nhwc(ref, x)),
                  "card_provenance": converted.card["provenance"]["kind"]}
        print(json.dumps(record), flush=True)
        results.append(record)
    (work / "bench_import.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    cli.run(main, define_flags, doc=__doc__)
