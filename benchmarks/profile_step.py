"""Where the time of one char-RNN training step goes: torch.profiler over a few steps of the default model.

    python -m benchmarks.profile_step              # the default model of params.yaml
    python -m benchmarks.profile_step '{"cell": "rnn_relu", "hidden_size": 512, "num_layers": 3, "embedding_dim": 100}'

Needs the `vocab` stage's outputs. Runs a few warm-up steps of the project's trainer step
(forward, loss, backward, clipping, the trainer's fused AdamW), then profiles `--steps` more
and prints the operators by self CPU time, and the shares of the step: matrix products (with
oneDNN's fused LSTM kernels, whose time is mostly GEMMs), copies and dtype casts, the
optimizer step (AdamW), and the rest (element-wise ops, autograd and dispatch overhead).
"""

import argparse
import json
import os

os.environ.setdefault("TQDM_DISABLE", "1")

import torch  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

from benchmarks import recipes  # noqa: E402
from stages.lib import training  # noqa: E402

MATRIX_PRODUCTS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::mkldnn_rnn_layer", "aten::mkldnn_rnn_layer_backward")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="?", default="{}", help="JSON overrides, as for benchmarks.recipes char")
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    config, section = recipes.configure("char", {"device": "cpu", **json.loads(args.overrides)})
    _, model, task, _ = recipes.char_setup(config, section)
    optimizer = training.make_optimizer(model, section)

    def step(index):
        loss = task.loss(model, index)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), section["clip"])
        optimizer.step()

    model.train()
    for index in range(5):
        step(index)
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        for index in range(args.steps):
            step(index)
    averages = profiler.key_averages()
    print(averages.table(sort_by="self_cpu_time_total", row_limit=15))
    total = sum(event.self_cpu_time_total for event in averages)
    shares = {
        "matrix products": sum(e.self_cpu_time_total for e in averages if e.key in MATRIX_PRODUCTS),
        "copies and casts": sum(e.self_cpu_time_total for e in averages if e.key in ("aten::copy_", "aten::_to_copy")),
        "optimizer step": sum(e.cpu_time_total for e in averages if e.key.startswith("Optimizer.step")),
    }
    shares["the rest"] = total - sum(shares.values())
    chars = args.steps * section["batch_size"] * section["seq_len"]
    print(f"{args.steps} steps of {section['batch_size']} x {section['seq_len']} characters, {torch.get_num_threads()} threads: "
          f"{total / 1e3 / args.steps:.1f} ms per step, {chars / (total / 1e6):,.0f} chars/s")
    print("; ".join(f"{name} {100 * value / total:.0f} %" for name, value in shares.items()))


if __name__ == "__main__":
    main()
