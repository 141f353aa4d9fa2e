"""Two queued experiments side by side: `dvc queue start -j 2` against `-j 1`, as typed.

    python -m benchmarks.queue_threads [--steps 300]

Needs the `vocab` stage's outputs in the DVC cache (`dvc repro vocab`). Works in a temporary
clone of this repository that shares its DVC cache, so nothing here changes. Each round queues
two experiments of the `train_charrnn` stage (a fresh seed per round, so that the run-cache
restores nothing), starts the queue, and times it until both succeed:
- `-j 1`, `charrnn.threads=0` (the stage's choice: one thread in a queue worker);
- `-j 2`, `charrnn.threads=0`;
- `-j 2`, `charrnn.threads=2` (two threads each: what a worker got before the stage chose).
Prints a table, then one JSON object on the last line.
"""

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = [("j1_auto", 1, 0), ("j2_auto", 2, 0), ("j2_two_threads_each", 2, 2)]


def dvc(*args, cwd):
    """Run a dvc command in `cwd`; its stdout."""
    return subprocess.run(["dvc", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def queue_round(clone, workers, threads, seed, steps):
    """Wall seconds for two queued train_charrnn experiments run by `workers` queue workers."""
    for size in (256, 384):
        dvc("exp", "run", "--queue", "train_charrnn", "-S", f"charrnn.seed={seed}", "-S", f"hidden_size={size}",
            "-S", f"charrnn.steps={steps}", "-S", f"charrnn.threads={threads}", "-S", "charrnn.eval_every=0",
            "-S", "charrnn.checkpoint_every=0", cwd=clone)
    began = time.perf_counter()
    dvc("queue", "start", "-j", str(workers), cwd=clone)
    while True:
        status = dvc("queue", "status", cwd=clone)
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(1)
    seconds = time.perf_counter() - began
    if "Failed" in status:
        raise SystemExit(f"a queued experiment failed:\n{status}")
    dvc("queue", "stop", cwd=clone)
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="charrnn.steps of each experiment")
    args = parser.parse_args()
    cache = dvc("cache", "dir", cwd=ROOT).strip()
    results = {}
    with tempfile.TemporaryDirectory() as workdir:
        clone = Path(workdir) / "clone"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        dvc("cache", "dir", "--local", cache, cwd=clone)
        dvc("checkout", "vocab", cwd=clone)
        for seed, (name, workers, threads) in enumerate(ROUNDS, start=100):
            results[name] = round(queue_round(clone, workers, threads, seed, args.steps), 1)
            print(f"{name:22s} -j {workers}, charrnn.threads={threads}: {results[name]:6.1f} s for two experiments")
    print(json.dumps({"steps": args.steps, "wall_s": results, "speedup_j2_over_j1": round(results["j1_auto"] / results["j2_auto"], 2)}))


if __name__ == "__main__":
    main()
