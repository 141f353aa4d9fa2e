"""The utilisation figures of benchmarks.flops: FLOP per character and the CPU's peak."""

import pytest

from benchmarks import flops
from stages.lib.models import CharRNN


def test_flop_per_char_counts_six_per_matrix_weight_and_not_the_embedding():
    model = CharRNN(10, "lstm", hidden_size=4, num_layers=1, embedding_dim=3)
    recurrent = 4 * 4 * 3 + 4 * 4 * 4  # w_ih [16, 3], w_hh [16, 4]
    decoder = 10 * 4
    assert flops.matrix_weights(model) == recurrent + decoder
    assert flops.flop_per_char(model) == 6 * (recurrent + decoder)


def test_a_scan_cell_counts_its_window_wide_projection():
    model = CharRNN(10, "qrnn", hidden_size=4, num_layers=1, embedding_dim=0)  # one-hot input: no embedding
    assert flops.matrix_weights(model) == 3 * 4 * 10 + 10 * 4


@pytest.mark.parametrize("flags, precision, per_cycle, unit", [
    ({"avx512f", "avx512_bf16", "amx_bf16"}, "bfloat16", 1024, "AMX bfloat16"),
    ({"avx512f", "avx512_bf16"}, "bfloat16", 128, "AVX512-BF16"),
    ({"avx512f", "avx512_bf16", "amx_bf16"}, "float32", 64, "AVX-512 float32 FMA"),
    ({"avx2"}, "bfloat16", 32, "AVX2 float32 FMA"),
    (set(), "float32", 8, "scalar"),
])
def test_the_peak_is_threads_times_clock_times_the_widest_unit_of_the_precision(flags, precision, per_cycle, unit):
    assert flops.peak_flops(2, precision, flags, 2.0e9) == (2 * 2.0e9 * per_cycle, unit)
    assert flops.peak_flops(2, precision, flags, None) == (None, unit)


def test_flags_and_clock_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Some CPU\ncpu MHz\t\t: 2100.500\nflags\t\t: fpu avx2 amx_bf16\n\n"
                       "processor\t: 1\ncpu MHz\t\t: 2000.000\nflags\t\t: fpu avx2 amx_bf16\n")
    assert flops.cpu_flags_and_clock(cpuinfo) == ({"fpu", "avx2", "amx_bf16"}, 2100.5e6)
    assert flops.cpu_flags_and_clock(tmp_path / "missing") == (set(), None)
