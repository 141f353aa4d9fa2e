"""Cost of one free-running rollout step of the wave model's training, forward and backward.

    python -m benchmarks.wave_step [--rollout 150] [--repeats 5]

A training step of the `train_wavernn` stage on the wavernn section of params.yaml (the
teacher-forced warm-up, a rollout of --rollout steps, the MSE, the backward pass), timed four
ways, alternating in one process on one thread so that all see the same machine:
- the rollout as one torch.gru_cell step per time step under autograd (the old trainer), or
  WaveRNN.rollout (GRUFreeRun, the hand-written backward pass);
- `normalize_amplitude` off or on.
The same step with a one-step rollout is timed too and subtracted, which leaves the cost of a
rollout step. Prints a table, then one JSON object on the last line.
"""

import argparse
import json
import time

import torch

from benchmarks import recipes
from stages.lib import waves
from stages.lib.models import WaveRNN, wave_architecture


def stepped(model, prediction, state, steps):
    """The rollout as the trainer ran it before GRUFreeRun: WaveRNN.step under autograd."""
    predictions = []
    for _ in range(steps):
        prediction, state = model.step(prediction, state)
        predictions.append(prediction)
    return torch.cat(predictions, dim=1)


def seconds_per_step(section, rollout_fn, rollout, steps=20):
    """Mean seconds of a training step (loss and backward) with `rollout` free-running steps."""
    torch.manual_seed(0)
    model = WaveRNN(**wave_architecture(section))
    generator = torch.Generator().manual_seed(0)
    teacher = section["teacher_steps"]

    def train_step():
        values = waves.make_waves(section["batch_size"], teacher + rollout + 1, generator).values
        outputs, state = model(values[:, :teacher, None])
        predictions = torch.cat([outputs[..., 0], rollout_fn(model, outputs[:, -1], state, rollout)], dim=1)
        torch.nn.functional.mse_loss(predictions, values[:, 1:]).backward()

    train_step()  # warm-up
    began = time.perf_counter()
    for _ in range(steps):
        train_step()
    return (time.perf_counter() - began) / steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollout", type=int, default=None, help="free-running steps (default: wavernn.rollout_end)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    _, section = recipes.configure("wave", {})
    rollout = args.rollout or section["rollout_end"]
    methods = {"stepped": stepped, "rollout": WaveRNN.rollout}
    timings = {}
    for _ in range(args.repeats):
        for method, rollout_fn in methods.items():
            for normalize in (False, True):
                config = {**section, "normalize_amplitude": normalize}
                cost = seconds_per_step(config, rollout_fn, rollout) - seconds_per_step(config, rollout_fn, 1)
                timings.setdefault(f"{method}_normalize_{str(normalize).lower()}_ms", []).append(cost / (rollout - 1) * 1e3)
    result = {name: round(min(values), 4) for name, values in timings.items()}
    for name, value in result.items():
        print(f"{name:32s} {value:.4f} ms per rollout step (best of {args.repeats})")
    print(json.dumps({"rollout": rollout, "batch_size": section["batch_size"], "hidden_size": section["hidden_size"], **result}))


if __name__ == "__main__":
    main()
