"""The training loop both trainers share: seeding, device and threads, learning-rate schedule,
checkpoint and resume, the non-finite-loss guard, per-step logging and the progress bar.

A task (the char-RNN's text stream, the wave generator) supplies `loss(model, step)`,
`evaluate(model)` and `state_dict()`/`load_state_dict()` for its data stream; `fit()` does
the rest. The loop never syncs with the device except when it logs.
"""

import hashlib
import json
import logging
import math
import random
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from . import io
from .cli import UserError

log = logging.getLogger(__name__)


def seed_everything(seed):
    """Seed python, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def setup_device(name, threads):
    """Set torch's CPU threads (0 keeps torch's default) and return the device `name` asks for."""
    if threads:
        torch.set_num_threads(threads)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("device: 'cuda' was asked for but no CUDA device is available; use 'auto' or 'cpu'")
    return torch.device(name)


def learning_rate(step, config):
    """The learning rate at `step` (0-based): linear warm-up, then constant or cosine decay to lr * min_lr_fraction."""
    peak = config["lr"]
    warmup = config["warmup_steps"]
    if step < warmup:
        return peak * (step + 1) / warmup
    if config["lr_schedule"] == "constant":
        return peak
    progress = (step - warmup) / max(1, config["steps"] - warmup)
    floor = peak * config["min_lr_fraction"]
    return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def fingerprint(params, *files):
    """A digest of the parameters and input files a run depends on: a resume needs the same one."""
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode())
    for path in files:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


def save(path, payload):
    """torch.save, atomically."""
    with io.atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_resume(path, expected_fingerprint):
    """The resume checkpoint at `path` if it belongs to this run (same fingerprint), else None."""
    path = Path(path)
    if not path.is_file():
        return None
    payload = torch.load(path, map_location="cpu", weights_only=False)
    if payload.get("fingerprint") != expected_fingerprint:
        log.info("ignoring %s: it belongs to a run with other parameters or data", path)
        return None
    return payload


def non_finite_error(step, value, section):
    """The message for a loss that became NaN or infinite."""
    return UserError(
        f"training loss became {value} at step {step}; "
        f"lower the learning rate ('{section}.lr') or use shorter windows/rollouts"
    )


def fit(model, task, config, *, section, resume_path, run_fingerprint, units_per_step, unit="char"):
    """Train `model` on `task` for config['steps'] steps; return the per-step log (a list of rows).

    config: the trainer's params section (steps, lr, schedule, clip, log_every, eval_every,
    checkpoint_every). Every `checkpoint_every` steps the model, optimizer, task stream, RNG
    and log are written to `resume_path`; a rerun with the same fingerprint continues from it
    and ends exactly as an unbroken run would. The file is removed once training completes.
    """
    steps = config["steps"]
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    start, history = 0, []
    resume = load_resume(resume_path, run_fingerprint)
    if resume:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        task.load_state_dict(resume["task"])
        torch.set_rng_state(resume["torch_rng"])
        start, history = resume["step"], resume["history"]
        log.info("resuming from %s at step %d of %d", resume_path, start, steps)

    pending = []  # (step, lr, loss tensor) not yet synced to the host
    train_seconds = 0.0

    def flush():
        values = torch.stack([loss for _, _, loss in pending]).tolist() if pending else []
        for (step, lr, _), value in zip(pending, values):
            if not math.isfinite(value):
                raise non_finite_error(step, value, section)
            history.append({"step": step, "train_loss": value, "lr": lr})
        pending.clear()

    bar = tqdm(range(start, steps), initial=start, total=steps, desc=section, unit="step", mininterval=1.0)
    for index in bar:
        step = index + 1
        began = time.perf_counter()
        lr = learning_rate(index, config)
        for group in optimizer.param_groups:
            group["lr"] = lr
        model.train()
        loss = task.loss(model, index)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config["clip"])
        optimizer.step()
        pending.append((step, lr, loss.detach()))
        if step % config["log_every"] == 0 or step == steps:
            flush()
            train_seconds += time.perf_counter() - began
            rate = units_per_step * (step - start) / max(train_seconds, 1e-9)
            bar.set_postfix(loss=f"{history[-1]['train_loss']:.4f}", **{f"{unit}/s": f"{rate:,.0f}"})
        else:
            train_seconds += time.perf_counter() - began
        if config["eval_every"] and step % config["eval_every"] == 0 and step < steps:
            flush()
            history[-1]["val_loss"] = task.evaluate(model)
            log.info("step %d: train %.4f, val %.4f", step, history[-1]["train_loss"], history[-1]["val_loss"])
        if config["checkpoint_every"] and step % config["checkpoint_every"] == 0 and step < steps:
            flush()
            save(
                resume_path,
                {
                    "fingerprint": run_fingerprint,
                    "step": step,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "task": task.state_dict(),
                    "torch_rng": torch.get_rng_state(),
                    "history": history,
                },
            )
    bar.close()
    flush()
    units_per_s = units_per_step * (steps - start) / max(train_seconds, 1e-9)
    return history, {"train_seconds": round(train_seconds, 2), f"{unit}s_per_s": round(units_per_s, 1)}


def finish(resume_path):
    """Remove the resume checkpoint once the stage has written its outputs."""
    Path(resume_path).unlink(missing_ok=True)

