"""This CPU's arithmetic limit: binary (XOR + popcount), float32 FMA and int8 multiply-add throughput.

:func:`measure_limits` compiles ``limits_kernel.c`` (beside this file) with ``cc -O3 -march=native``
when a C compiler exists and runs it once per thread (``threads`` copies at the same time, rates
summed): register / L1-resident loops, so the figures are what the cores can do at best, not what a
network with its memory traffic can reach. Without a compiler a numpy fallback measures the same
three quantities much less tightly (``method`` says which was used): XOR + ``unpackbits`` popcount,
a float32 and an int32 matrix product (numpy has no int8 GEMM; the int figure is a lower bound).

Binary MACs: one XOR + popcount bit = one binary multiply-accumulate (the convention of
:mod:`bhpe_tf.counting`). The best popcount method counts (scalar POPCNT, AVX2 VPSHUFB look-up,
AVX-512 VPOPCNTDQ where the CPU has it).
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Dict, Optional

import numpy as np

KERNEL_SOURCE = Path(__file__).with_name("limits_kernel.c")


@dataclasses.dataclass
class Limits:
    """MAC/s per kind at ``threads`` concurrent copies; ``kernels``: every kernel's own rate."""

    binary_macs_per_s: float
    fp32_macs_per_s: float
    int8_macs_per_s: float
    threads: int
    method: str
    kernels: Dict[str, float]

    def for_kind(self, kind: str) -> float:
        return {"binary": self.binary_macs_per_s, "fp32": self.fp32_macs_per_s, "int8": self.int8_macs_per_s}[kind]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def cpu_name() -> str:
    """``model name`` of /proc/cpuinfo plus the SIMD extensions that matter here, and the usable cores."""
    name, flags = "unknown CPU", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and name == "unknown CPU":
                name = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    simd = [f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_vpopcntdq", "asimd")
            if f in flags]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{name} ({', '.join(simd) or 'no AVX2'}; {cores} usable cores)"


def compile_kernel(directory) -> Optional[Path]:
    """Path of the compiled micro-benchmark, or None when no C compiler can build it."""
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not compiler:
        return None
    binary = Path(directory) / "limits_kernel"
    proc = subprocess.run([compiler, "-O3", "-march=native", "-o", str(binary), str(KERNEL_SOURCE)],
                          capture_output=True, text=True)
    return binary if proc.returncode == 0 and binary.exists() else None


def _parse(text: str) -> Dict[str, float]:
    rates = {}
    for line in text.strip().splitlines():
        name, value = line.split()
        rates[name] = float(value)
    return rates


def _combine(per_copy, threads: int, method: str) -> Limits:
    kernels = {name: sum(copy[name] for copy in per_copy) for name in per_copy[0]}
    pick = lambda prefix: max(v for k, v in kernels.items() if k.startswith(prefix))  # noqa: E731
    return Limits(binary_macs_per_s=pick("popcount"), fp32_macs_per_s=pick("fma_f32"), int8_macs_per_s=pick("int8"),
                  threads=threads, method=method, kernels=kernels)


def _numpy_copy(seconds: float) -> Dict[str, float]:
    rng = np.random.default_rng(0)

    def rate(fn, macs):
        best = 0.0
        deadline = time.perf_counter() + seconds
        while True:
            start = time.perf_counter()
            fn()
            best = max(best, macs / (time.perf_counter() - start))
            if time.perf_counter() > deadline:
                return best

    a = rng.integers(0, 2 ** 63, size=(64, 64), dtype=np.uint64)
    w = rng.integers(0, 2 ** 63, size=(64, 64), dtype=np.uint64)
    binary = rate(lambda: np.unpackbits((a[:, None, :] ^ w[None]).view(np.uint8)).sum(), 64 * 64 * 64 * 64)
    x = rng.standard_normal((256, 256)).astype(np.float32)
    fp32 = rate(lambda: x @ x, 256 ** 3)
    xi = rng.integers(-128, 128, size=(128, 128)).astype(np.int32)
    int8 = rate(lambda: xi @ xi, 128 ** 3)
    return {"popcount_numpy": binary, "fma_f32_numpy_sgemm": fp32, "int8_numpy_int32_matmul": int8}


def measure_limits(threads: int = 1, *, seconds: float = 0.2, force_numpy: bool = False) -> Limits:
    """The machine's limit at ``threads`` cores (``threads`` copies run at the same time, rates summed)."""
    threads = max(int(threads), 1)
    with tempfile.TemporaryDirectory() as directory:
        binary = None if force_numpy else compile_kernel(directory)
        if binary is not None:
            procs = [subprocess.Popen([str(binary), str(seconds)], stdout=subprocess.PIPE, text=True)
                     for _ in range(threads)]
            outputs = [proc.communicate()[0] for proc in procs]
            if all(proc.returncode == 0 for proc in procs):
                return _combine([_parse(text) for text in outputs], threads, "C, cc -O3 -march=native")
    if threads == 1:
        return _combine([_numpy_copy(seconds)], 1, "numpy fallback")
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(threads) as pool:
        copies = pool.map(_numpy_copy, [seconds] * threads)
    return _combine(copies, threads, "numpy fallback")
