"""Cost of the char-RNN's optimizer: gradient clipping plus one AdamW step, fused against unfused.

    python -m benchmarks.optimizer_step [--threads 1] [--steps 50] [--rounds 3]

Builds the default model of params.yaml (needs the `vocab` stage's outputs), gives every
weight a random gradient, and times `torch.nn.utils.clip_grad_norm_` plus `optimizer.step()`
for the trainer's optimizer (training.make_optimizer: AdamW, fused) and for the same AdamW
unfused (torch's `foreach` default), alternating within each round so that both see the same
machine. Prints ms per step, then one JSON object on the last line.
"""

import argparse
import json
import time

import torch

from benchmarks import recipes
from stages.lib import training


def ms_per_step(weights, optimizer, clip, steps, warmup=5):
    """Mean milliseconds of clipping `weights` and stepping `optimizer`, after `warmup` untimed steps."""

    def clip_and_step(count):
        for _ in range(count):
            torch.nn.utils.clip_grad_norm_(weights, clip)
            optimizer.step()

    clip_and_step(warmup)
    began = time.perf_counter()
    clip_and_step(steps)
    return (time.perf_counter() - began) / steps * 1e3


def unfused(optimizer):
    """The AdamW `optimizer` is (its weights, lr, betas, eps and weight decay) as torch runs it by default: not fused."""
    settings = optimizer.defaults
    return torch.optim.AdamW(optimizer.param_groups[0]["params"], lr=settings["lr"], betas=settings["betas"],
                             eps=settings["eps"], weight_decay=settings["weight_decay"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    config, section = recipes.configure("char", {"threads": args.threads, "device": "cpu"})
    model = recipes.char_setup(config, section)[1]
    weights = list(model.parameters())
    for weight in weights:
        weight.grad = torch.randn_like(weight)
    trainer_adamw = training.make_optimizer(model, section)
    timings = {"unfused": [], "fused": []}
    for _ in range(args.rounds):
        for name, optimizer in (("unfused", unfused(trainer_adamw)), ("fused", trainer_adamw)):
            timings[name].append(round(ms_per_step(weights, optimizer, section["clip"], args.steps), 2))
    count = sum(weight.numel() for weight in weights)
    print(f"{count:,} weights, {torch.get_num_threads()} thread(s), clip + AdamW step, ms per step in each round:")
    for name, values in timings.items():
        print(f"{name:<8} {', '.join(f'{value:.2f}' for value in values)}")
    print(json.dumps({"threads": torch.get_num_threads(), "weights": count, "ms_per_step": timings}))


if __name__ == "__main__":
    main()
