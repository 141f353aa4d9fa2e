"""Cost of one free-running rollout step of the wave model's training, forward and backward.

    python -m benchmarks.wave_step [--rollout 150] [--repeats 5]

Times WaveTask.free_running_loss + backward (the `train_wavernn` stage's step) on the wavernn
section of params.yaml at its rollout_end, once with `normalize_amplitude` off and once on,
alternating in one process on one thread so that both see the same machine. The teacher-forced
part (one fused nn.GRU call) is timed alone and subtracted. Prints a table, then one JSON line.
"""

import argparse
import json
import time

import torch

from benchmarks import recipes
from stages.lib import waves
from stages.lib.models import WaveRNN, wave_architecture


def seconds_per_step(section, rollout, steps=10):
    """Seconds of one training step (loss, backward) with `rollout` free-running steps."""
    torch.manual_seed(0)
    model = WaveRNN(**wave_architecture(section))
    task = waves.WaveTask({**section, "rollout_start": rollout, "rollout_end": rollout}, 0, torch.device("cpu"))
    task.loss(model, 0).backward()  # warm-up
    began = time.perf_counter()
    for step in range(steps):
        task.loss(model, step).backward()
    return (time.perf_counter() - began) / steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollout", type=int, default=None, help="free-running steps (default: wavernn.rollout_end)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    _, section = recipes.configure("wave", {})
    rollout = args.rollout or section["rollout_end"]
    rows = {}
    for normalize in (False, True) * args.repeats:
        config = {**section, "normalize_amplitude": normalize}
        with_rollout, without = seconds_per_step(config, rollout), seconds_per_step(config, 1)
        rows.setdefault(normalize, []).append((with_rollout - without) / (rollout - 1) * 1e3)
    result = {f"normalize_amplitude_{str(key).lower()}_ms": round(min(values), 4) for key, values in rows.items()}
    for key, value in result.items():
        print(f"{key:32s} {value:.4f} ms per rollout step (best of {args.repeats}, batch {section['batch_size']}, hidden {section['hidden_size']})")
    print(json.dumps({"rollout": rollout, "batch_size": section["batch_size"], "hidden_size": section["hidden_size"], **result}))


if __name__ == "__main__":
    main()
