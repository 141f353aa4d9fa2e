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
import os
import platform
import random
import sys
import time
from io import BytesIO
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


def in_dvc_queue():
    """Whether this process runs in a DVC queue worker's temporary copy of the repository.

    DVC sets DVC_ROOT to the repository that runs the stage; a queued experiment works in a
    temporary directory elsewhere (under .dvc/tmp/exps), a workspace run in DVC_ROOT itself.
    """
    root = os.environ.get("DVC_ROOT")
    return bool(root) and Path(root).resolve() != Path.cwd().resolve()


def cpu_threads(threads):
    """The torch CPU threads for a `threads` param: itself if set; for 0, one in a DVC queue
    (`dvc queue start -j N` runs N stages side by side, which share the cores) else torch's default."""
    if threads:
        return threads
    return 1 if in_dvc_queue() else torch.get_num_threads()


def setup_device(name, threads):
    """Set torch's CPU threads (see cpu_threads) and return the device `name` asks for."""
    torch.set_num_threads(cpu_threads(threads))
    log.info("torch CPU threads: %d", torch.get_num_threads())
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("device: 'cuda' was asked for but no CUDA device is available; use 'auto' or 'cpu'")
    return torch.device(name)


def cpu_kind(cpuinfo=Path("/proc/cpuinfo")):
    """The CPU's model name with its family, model number and bfloat16 unit, as /proc/cpuinfo gives them.

    A name alone does not tell kinds apart ("AMD EPYC" is Zen 4 and Zen 5 alike), nor whose bfloat16
    kernels run on AMX, on AVX512-BF16 or on neither.
    """
    fields = {}
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().split("\n\n")[0].splitlines():  # the first processor's
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
    details = [f"family {fields['cpu family']} model {fields['model']}"] if "cpu family" in fields and "model" in fields else []
    if "flags" in fields:
        flags = fields["flags"].split()
        details.append("bfloat16: " + ("amx" if "amx_bf16" in flags else "avx512_bf16" if "avx512_bf16" in flags else "none"))
    name = fields.get("model name") or platform.processor() or platform.machine()
    return f"{name} ({', '.join(details)})" if details else name


def machine(device):
    """What a run's results depend on beyond its params: the CPU kind, torch's thread count and the device it ran on.

    The same params give the same metrics to the last digit only on the same CPU kind and thread count.
    """
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return {"cpu": cpu_kind(), "threads": torch.get_num_threads(), "device": name}


TRAIN_LOSS_STEPS = 100  # `train_loss` in the metrics: the mean per-step loss of the last 100 steps


def final_train_loss(history):
    """The metrics' `train_loss`: the mean training loss of the last TRAIN_LOSS_STEPS steps (all, if fewer)."""
    recent = [row["train_loss"] for row in history[-TRAIN_LOSS_STEPS:]]
    return sum(recent) / len(recent)


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


def code_files():
    """{module name: source file} of every module of this project the process has imported (stages.*)."""
    return {
        name: Path(module.__file__)
        for name, module in sorted(sys.modules.items())
        if (name == "stages" or name.startswith("stages.")) and getattr(module, "__file__", None)
    }


def fingerprint(params, *files):
    """A digest of the parameters, input files and code a run depends on: a resume needs the same one."""
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode())
    for path in files:
        digest.update(Path(path).read_bytes())
    for name, path in code_files().items():
        digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def save(path, payload):
    """torch.save, atomically. Serialised in memory first: saved to a file, the archive's inner
    folder would take the temporary file's random name, and the same weights would differ in bytes."""
    buffer = BytesIO()
    torch.save(payload, buffer)
    io.write_bytes(path, buffer.getvalue())


def load_resume(path, expected_fingerprint):
    """The resume checkpoint at `path` if it belongs to this run (same fingerprint), else None.

    An unreadable file (truncated, corrupt, not a checkpoint) is ignored with a warning: DVC
    never removes it, so failing on it would fail every rerun.
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # torch.load raises many types on a damaged file
        log.warning("ignoring %s: not a readable checkpoint (%s: %s); training starts at step 0", path, type(error).__name__, error)
        return None
    if not isinstance(payload, dict) or payload.get("fingerprint") != expected_fingerprint:
        log.info("ignoring %s: it belongs to a run with other parameters, data or code", path)
        return None
    return payload


def check_finite(model, step, section):
    """Raise the non-finite error unless every weight of `model` is finite (never checkpoint NaN)."""
    if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        raise non_finite_error(f"weights became NaN or infinite by step {step}", section)


def rng_state():
    """The torch random state, CPU and (when present) every CUDA device."""
    return {"cpu": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_state(state):
    """Restore what rng_state() returned."""
    torch.set_rng_state(state["cpu"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def non_finite_error(what, section):
    """The error for a loss or weights that became NaN or infinite: `what` happened, and the remedy."""
    return UserError(f"{what}; lower the learning rate ('{section}.lr') or use shorter windows/rollouts")


def make_optimizer(model, config):
    """AdamW over the model's weights with the trainer section's lr, adam_beta2 and weight_decay
    (decoupled; with weight_decay 0 it is Adam, step for step). Fused: one kernel for all weights,
    so clipping and a step of the char-RNN's 3.5 M weights take a few ms on a CPU, several
    times less than unfused (`python -m benchmarks.optimizer_step`)."""
    return torch.optim.AdamW(
        model.parameters(), lr=config["lr"], betas=(0.9, config["adam_beta2"]), weight_decay=config["weight_decay"], fused=True
    )


def fit(model, task, config, *, section, resume_path, run_fingerprint, units_per_step, unit="char"):
    """Train `model` on `task` for config['steps'] steps; return (per-step log, timing log), lists of rows.

    The timing log has a row at every logged step: step, the training seconds so far and the
    units (chars or waves) per second so far; the last row sums up the run, resumed parts included.

    config: the trainer's params section (steps, lr, schedule, clip, log_every, eval_every,
    checkpoint_every). Every `checkpoint_every` steps the model, optimizer, task stream, RNG
    and log are written to `resume_path`; a rerun with the same fingerprint continues from it
    and ends exactly as an unbroken run would. The file is removed once training completes.
    """
    steps = config["steps"]
    optimizer = make_optimizer(model, config)
    start, history, timing, train_seconds = 0, [], [], 0.0
    resume = load_resume(resume_path, run_fingerprint)
    if resume:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        task.load_state_dict(resume["task"])
        set_rng_state(resume["rng"])
        start, history, timing, train_seconds = resume["step"], resume["history"], resume["timing"], resume["train_seconds"]
        log.info("resuming from %s at step %d of %d", resume_path, start, steps)

    pending = []  # (step, lr, loss tensor) not yet synced to the host
    rate_name = f"{unit}s_per_s"

    def record_timing(step):
        timing.append({"step": step, "train_seconds": round(train_seconds, 3),
                       rate_name: round(units_per_step * step / max(train_seconds, 1e-9), 1)})

    def flush():
        values = torch.stack([loss for _, _, loss in pending]).tolist() if pending else []
        for (step, lr, _), value in zip(pending, values):
            if not math.isfinite(value):
                raise non_finite_error(f"training loss became {value} at step {step}", section)
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
            record_timing(step)
            bar.set_postfix(loss=f"{history[-1]['train_loss']:.4f}", **{f"{unit}/s": f"{timing[-1][rate_name]:,.0f}"})
        else:
            train_seconds += time.perf_counter() - began
        if config["eval_every"] and step % config["eval_every"] == 0 and step < steps:
            flush()
            history[-1]["val_loss"] = task.evaluate(model)
            log.info("step %d: train %.4f, val %.4f", step, history[-1]["train_loss"], history[-1]["val_loss"])
        if config["checkpoint_every"] and step % config["checkpoint_every"] == 0 and step < steps:
            flush()
            check_finite(model, step, section)
            save(
                resume_path,
                {
                    "fingerprint": run_fingerprint,
                    "step": step,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "task": task.state_dict(),
                    "rng": rng_state(),
                    "history": history,
                    "timing": timing,
                    "train_seconds": train_seconds,
                },
            )
    bar.close()
    flush()
    check_finite(model, steps, section)
    return history, timing  # the last step always logs, so timing[-1] is the whole run


def finish(resume_path):
    """Remove the resume checkpoint once the stage has written its outputs."""
    Path(resume_path).unlink(missing_ok=True)

