"""Faults, end to end with the real `dvc repro`: SIGKILL at random moments of the long stages,
a second `dvc repro` started while one runs, then a rerun that must give the unbroken results."""

import json
import os
import queue
import random
import signal
import subprocess
import threading
import time

import torch
from ruamel.yaml import YAML

from conftest import TINY_TEXT, Route, make_project, run, update_params

PIPELINE = ["download", "vocab", "ngram", "train_charrnn", "dynamic_eval", "generate", "mix", "train_wavernn", "evaluate_wave", "plot"]
# (stage to kill, seconds after it starts within which the kill lands, uniformly at random)
# The local server slows the download (7 KiB) to about 7 s while a second `dvc repro` is refused (it must
# start while the first one downloads), then to about 2 s; a tiny stage takes 2-3 s, most of it imports.
SECONDS_PER_KIB = 1.0, 0.25
FAULTS = [
    ("download", 8.0), ("download", 2.5),
    ("train_charrnn", 2.0), ("train_charrnn", 2.0), ("train_charrnn", 2.0),
    ("dynamic_eval", 2.0),
    ("train_wavernn", 2.0), ("train_wavernn", 2.0),
    ("evaluate_wave", 2.0), ("evaluate_wave", 2.0),
]
TIMING_LOGS = {"plots/charrnn_timing.csv", "plots/dynamic_timing.csv", "plots/wavernn_timing.csv"}  # seconds: the only outputs that differ run to run
CHECKPOINTS = ["data/charrnn.pt", "data/wavernn.pt", "data/resume/charrnn.pt", "data/resume/wavernn.pt"]


class Repro:
    """`dvc repro` in its own process group, its output read line by line as it comes."""

    def __init__(self, cwd):
        self.process = subprocess.Popen(["dvc", "repro"], cwd=cwd, start_new_session=True, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for_stage(self, stages, timeout=120):
        """The first of `stages` it starts running, or None if it ends first."""
        deadline = time.monotonic() + timeout
        while (line := self.lines.get(timeout=max(0.0, deadline - time.monotonic()))) is not None:
            for stage in stages:
                if line.startswith(f"Running stage '{stage}'"):
                    return stage
        return None

    def kill(self):
        os.killpg(self.process.pid, signal.SIGKILL)
        return self.process.wait()


def metrics(repo):
    """Every metrics JSON of `repo` (timings live apart, in TIMING_LOGS)."""
    return {path.name: json.loads(path.read_text()) for path in sorted((repo / "metrics").glob("*.json"))}


def output_hashes(repo):
    """{output path: md5} of every output in repo/dvc.lock but the timing logs."""
    lock = YAML(typ="safe").load((repo / "dvc.lock").read_text())
    return {out["path"]: out["md5"] for stage in lock["stages"].values() for out in stage.get("outs", [])
            if out["path"] not in TIMING_LOGS}


def temporary_files(repo):
    """Files under `repo` (its .git and .dvc aside) that look like a writer's leftovers."""
    found = []
    for folder, subfolders, files in os.walk(repo):
        subfolders[:] = [name for name in subfolders if name not in (".git", ".dvc")]
        found += [os.path.join(folder, name) for name in files if name.endswith(".tmp")]
    return found


def assert_nothing_partial_in_place(repo, corpus):
    """A killed run may leave outputs missing, never half-written."""
    raw = repo / "data/raw/corpus.txt"
    assert not raw.exists() or raw.read_text() == corpus
    for name in CHECKPOINTS:
        if (repo / name).exists():
            torch.load(repo / name, map_location="cpu", weights_only=False)  # raises on a truncated file
    for path in (repo / "metrics").glob("*.json"):
        json.loads(path.read_text())


def test_sigkill_at_random_moments_then_a_rerun_gives_the_unbroken_results(reproduced, tmp_path, http_server):
    route = http_server.routes["/slow.txt"] = Route((200, TINY_TEXT.encode(), False), seconds_per_kib=SECONDS_PER_KIB[0])
    repo = make_project(tmp_path / "faulty")
    update_params(repo, {"corpus.path": "", "corpus.url": http_server.url("/slow.txt")})
    corpus = (reproduced / "data/raw/corpus.txt").read_text()
    rng = random.Random(13)
    hit, lock_refusals = [], 0
    for target, window in FAULTS:
        repro = Repro(repo)
        stage = repro.wait_for_stage(PIPELINE[PIPELINE.index(target) :])
        assert stage, "the pipeline finished before the stage to kill"
        if stage == "download" and not lock_refusals:
            # A second run at once. DVC releases its repo lock while a stage's command runs
            # (dvc/stage/run.py: unlocked_repo) and guards the stage's deps and outs with its
            # rwlock instead, so the second run is refused by one lock or the other.
            second = run(["dvc", "repro"], repo, check=False)
            assert second.returncode != 0 and "Traceback" not in second.stderr
            assert "Unable to acquire lock" in second.stderr or "is busy, it is being blocked by" in second.stderr, second.stderr
            lock_refusals += 1
        time.sleep(rng.uniform(0.0, window))
        assert repro.kill() == -signal.SIGKILL, f"dvc repro ended before the kill in {stage}"
        hit.append(stage)
        assert_nothing_partial_in_place(repo, corpus)
        if lock_refusals:
            route.seconds_per_kib = SECONDS_PER_KIB[1]

    final = run(["dvc", "repro"], repo)
    print(f"faults: {len(hit)} kills during {hit}; {lock_refusals} concurrent run refused")
    assert {"download", "train_charrnn", "dynamic_eval", "train_wavernn", "evaluate_wave"} <= set(hit)
    assert "Traceback" not in final.stdout + final.stderr
    assert metrics(repo) == metrics(reproduced)
    assert output_hashes(repo) == output_hashes(reproduced)  # checkpoints, corpus, arrays, logs: same bytes
    assert temporary_files(repo) == []
    assert "up to date" in run(["dvc", "status"], repo).stdout
