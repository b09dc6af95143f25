"""Forward time of bhpe_tf's SMPLXLayer (tf.function) vs the `smplx` package (torch), on CPU.

Usage: python benchmarks/bench_smplx.py [--model PATH] [--repeats 20] [--batches 1,64] [--threads N]

Without --model a synthetic model (official format) is written to a temporary directory. Both
models run the Hand4Whole configuration (neutral, no PCA, flat_hand_mean=False, face contour) on
the same random parameters; the table shows the median of --repeats timed runs after warm-up.
"""
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import bhpe_tf  # noqa: E402,F401  (before TensorFlow: Keras 2)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import torch  # noqa: E402
from absl import flags  # noqa: E402
import smplx  # noqa: E402

from bhpe_tf import cli  # noqa: E402
from bhpe_tf.body.smplx_layer import SMPLXLayer  # noqa: E402
from bhpe_tf.body.synthetic_model import write_synthetic_smplx  # noqa: E402


def _median_seconds(fn, repeats, warmup=3):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _params(batch, rng):
    shapes = {"global_orient": 3, "body_pose": 63, "left_hand_pose": 45, "right_hand_pose": 45,
              "jaw_pose": 3, "betas": 10, "expression": 10, "transl": 3}
    return {k: rng.normal(0, 0.3, size=(batch, n)).astype(np.float32) for k, n in shapes.items()}


def define_flags(flag_values=flags.FLAGS):
    flags.DEFINE_string("model", None, "SMPL-X .npz/.pkl file (default: a synthetic one)", flag_values=flag_values)
    flags.DEFINE_integer("repeats", 20, "timed runs (median reported)", flag_values=flag_values)
    flags.DEFINE_list("batches", ["1", "64"], "comma-separated batch sizes", flag_values=flag_values)
    flags.DEFINE_integer("threads", 0, "intra-op threads for both frameworks (0: library default)",
                         flag_values=flag_values)


def main(argv):
    del argv
    args = flags.FLAGS
    if args.threads:
        torch.set_num_threads(args.threads)
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tmp = None
    if args.model is None:
        tmp = tempfile.TemporaryDirectory()
        args.model = write_synthetic_smplx(os.path.join(tmp.name, "SMPLX_NEUTRAL.npz"), seed=0)
    ext = "pkl" if args.model.endswith(".pkl") else "npz"
    options = dict(use_pca=False, flat_hand_mean=False, use_face_contour=True)
    layer = SMPLXLayer(model_path=args.model, **options)
    forward = tf.function(lambda p: layer(p))
    rng = np.random.default_rng(0)
    rows = []
    for batch in map(int, args.batches):
        params = _params(batch, rng)
        tf_params = {k: tf.constant(v) for k, v in params.items()}
        ref = smplx.SMPLX(model_path=args.model, ext=ext, batch_size=batch, **options)
        torch_params = {k: torch.from_numpy(v) for k, v in params.items()}

        def run_torch():
            with torch.no_grad():
                return ref(**torch_params).joints

        t_tf = _median_seconds(lambda: forward(tf_params)["joints"].numpy(), args.repeats)
        t_torch = _median_seconds(lambda: run_torch().numpy(), args.repeats)
        diff = np.abs(forward(tf_params)["joints"].numpy() - run_torch().numpy()).max()
        rows.append((batch, t_tf * 1e3, t_torch * 1e3, t_torch / t_tf, diff))
    print(f"CPU forward time, median of {args.repeats} runs after warm-up "
          f"(torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs)")
    print(f"{'batch':>5} | {'bhpe_tf SMPLXLayer [ms]':>24} | {'smplx (torch) [ms]':>19} | "
          f"{'speed-up':>8} | {'max |joint diff| [m]':>20}")
    print("-" * 89)
    for batch, ms_tf, ms_torch, ratio, diff in rows:
        print(f"{batch:>5} | {ms_tf:>24.2f} | {ms_torch:>19.2f} | {ratio:>7.2f}x | {diff:>20.2e}")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    cli.run(main, define_flags, doc=__doc__)
