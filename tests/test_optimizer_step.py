"""benchmarks.optimizer_step's timer: it clips and steps the optimizer it times."""

import torch

from benchmarks.optimizer_step import ms_per_step, unfused
from stages.lib import training


def test_ms_per_step_clips_and_steps_the_optimizer_it_times():
    model = torch.nn.Linear(4, 3)
    weights = list(model.parameters())
    before = [w.detach().clone() for w in weights]
    for weight in weights:
        weight.grad = torch.full_like(weight, 100.0)
    trainer_adamw = training.make_optimizer(model, {"lr": 0.01, "adam_beta2": 0.999, "weight_decay": 0.0})
    optimizer = unfused(trainer_adamw)
    assert not optimizer.defaults["fused"]
    assert all(optimizer.defaults[key] == trainer_adamw.defaults[key] for key in ("lr", "betas", "eps", "weight_decay"))
    assert ms_per_step(weights, optimizer, clip=1.0, steps=3, warmup=2) > 0
    total_norm = torch.linalg.vector_norm(torch.cat([w.grad.flatten() for w in weights]))
    assert abs(float(total_norm) - 1.0) < 1e-4  # clipped to the norm it was given
    # Adam's first steps move each weight by about lr each: five steps, about 0.05
    for weight, start in zip(weights, before):
        torch.testing.assert_close(start - weight.detach(), torch.full_like(start, 0.05), rtol=0.05, atol=1e-3)
