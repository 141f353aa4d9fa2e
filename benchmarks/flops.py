"""How much of the CPU's matrix units a char-RNN's training uses: model FLOP per character,
the CPU's peak FLOP/s from what it reports, and the rate a large matrix product really reaches.

Model FLOP per character is 6 x the weights of the model's matrix products (every weight
matrix but the embedding's lookup table): a multiply-add per weight forward (2 FLOP) and two
backward (the input's and the weight's gradient, 4 FLOP), the accounting of Kaplan et al.
(2020) and of PaLM's model-FLOP utilisation. Gates, losses and the optimizer are not counted.

Peak = threads x clock x FLOP per cycle and core, for the precision's widest unit the CPU
flags (/proc/cpuinfo):
- bfloat16 with `amx_bf16` (Sapphire Rapids and later): 1024 (AMX's TDPBF16PS: a 16 x 32 by
  32 x 16 tile product, 8192 multiply-adds, every 16 cycles);
- bfloat16 with `avx512_bf16`: 128 (VDPBF16PS: 32 multiply-adds per 512-bit instruction,
  two per cycle). Zen 4 runs each 512-bit instruction on two 256-bit halves, but a large
  bfloat16 product on a 2-core EPYC (family 25 model 17) reached 74 FLOP per cycle and core
  at the reported clock, more than one such instruction a cycle allows, so 128 stands for it too;
- float32 (or bfloat16 without those) with `avx512f`: 64; with `avx2`: 32; otherwise 8.
The clock is /proc/cpuinfo's "cpu MHz" (on a VM, the nominal clock the host reports).
"""

import re
import time
from pathlib import Path

import torch

UNITS = [  # (precision, /proc/cpuinfo flag, FLOP per cycle and core, name), widest first
    ("bfloat16", "amx_bf16", 1024, "AMX bfloat16"),
    ("bfloat16", "avx512_bf16", 128, "AVX512-BF16"),
    (None, "avx512f", 64, "AVX-512 float32 FMA"),
    (None, "avx2", 32, "AVX2 float32 FMA"),
]
MATMUL_SHAPE = (4096, 512, 2048)  # a window of 64 x 64 characters through a 512 -> 2048 product


def matrix_weights(model):
    """The weights of the model's matrix products: every 2-d parameter but the embedding table."""
    embedding = getattr(model, "embedding", None)
    skipped = {id(p) for p in embedding.parameters()} if embedding is not None else set()
    return sum(p.numel() for p in model.parameters() if p.dim() == 2 and id(p) not in skipped)


def flop_per_char(model):
    """Model FLOP of one training character: 6 x matrix_weights (forward 2, backward 4)."""
    return 6 * matrix_weights(model)


def cpu_flags_and_clock(cpuinfo=Path("/proc/cpuinfo")):
    """The CPU's flags (a set) and clock in Hz (None where unknown), from /proc/cpuinfo."""
    text = cpuinfo.read_text() if cpuinfo.is_file() else ""
    flags = re.search(r"^flags\s*:(.*)$", text, re.MULTILINE)
    clock = re.search(r"^cpu MHz\s*:\s*([\d.]+)", text, re.MULTILINE)
    return set(flags.group(1).split()) if flags else set(), float(clock.group(1)) * 1e6 if clock else None


def peak_flops(threads, precision, flags, clock):
    """(peak FLOP/s of `threads` cores in `precision`, the unit's name); (None, name) without a clock."""
    per_cycle, name = 8, "scalar"
    for unit_precision, flag, unit_per_cycle, unit_name in UNITS:
        if flag in flags and unit_precision in (None, precision):
            per_cycle, name = unit_per_cycle, unit_name
            break
    return (threads * clock * per_cycle if clock else None), name


def measured_matmul_flops(precision, repeats=5):
    """FLOP/s of a large matrix product (MATMUL_SHAPE) in `precision` on torch's threads, best of `repeats`."""
    rows, inner, columns = MATMUL_SHAPE
    dtype = torch.bfloat16 if precision == "bfloat16" else torch.float32
    a, b = torch.randn(rows, inner).to(dtype), torch.randn(inner, columns).to(dtype)
    a @ b  # oneDNN builds its kernel on the first call
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - began)
    return 2 * rows * inner * columns / best


def utilisation(model, chars_per_s, threads, precision):
    """The utilisation figures of a training run: FLOP per char, achieved FLOP/s, the peak and both fractions."""
    flags, clock = cpu_flags_and_clock()
    peak, unit = peak_flops(threads, precision, flags, clock)
    achieved = flop_per_char(model) * chars_per_s
    matmul = measured_matmul_flops(precision)
    return {
        "flop_per_char": flop_per_char(model),
        "achieved_flops": round(achieved),
        "peak_flops": peak and round(peak),
        "peak_unit": unit,
        "fraction_of_peak": peak and round(achieved / peak, 4),
        "matmul_flops": round(matmul),
        "fraction_of_matmul": round(achieved / matmul, 4),
    }
