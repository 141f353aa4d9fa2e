"""Shared fixtures: a local HTTP server and a copy of the project in a temporary git repo."""

import contextlib
import http.server
import io
import json
import logging
import os
import re
import runpy
import shutil
import subprocess
import sys
import threading
import time
import traceback
import warnings
from datetime import timedelta
from pathlib import Path

import pytest
import torch
from filelock import FileLock
from hypothesis import settings
from ruamel.yaml import YAML


ROOT = Path(__file__).resolve().parents[1]

# Hypothesis, bounded: every property draws a fixed number of examples (its own count where its
# @settings names one) and each example must finish within the deadline. Loaded by default; pass
# `--hypothesis-profile=NAME` to load another registered profile.
settings.register_profile("suite", max_examples=50, deadline=timedelta(seconds=5), print_blob=True)
settings.load_profile("suite")
PROJECT_FILES = ["stages", "corpora", "dvc.yaml", "params.yaml", "requirements.txt", ".dvcignore", ".gitignore", ".dvc/config", ".dvc/.gitignore"]

TINY_TEXT = (
    "FIRST CITIZEN:\nBefore we proceed any further, hear me speak.\n\n"
    "ALL:\nSpeak, speak.\n\n"
    "FIRST CITIZEN:\nYou are all resolved rather to die than to famish?\n\n"
    "ALL:\nResolved. resolved.\n\n"
) * 40


class Route:
    """Canned answers for one path: (status, body, truncate[, headers]) served in turn, the last repeating.

    `seconds_per_kib` > 0 sends bodies slowly, a KiB at a time.
    """

    def __init__(self, *answers, seconds_per_kib=0.0):
        self.answers = list(answers)
        self.hits = 0
        self.seconds_per_kib = seconds_per_kib

    def next(self):
        answer = self.answers[min(self.hits, len(self.answers) - 1)]
        self.hits += 1
        return answer


class Server:
    """A real HTTP server on 127.0.0.1 whose answers the test sets per path."""

    def __init__(self):
        self.routes = {}
        routes = self.routes

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                route = routes.get(self.path)
                status, body, truncate, *headers = route.next() if route else (404, b"not found", False)
                self.send_response(status)
                for name, value in (headers[0] if headers else {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                sent = body[: len(body) // 2] if truncate else body
                pace = route.seconds_per_kib if route else 0.0
                chunk = 1024 if pace else max(1, len(sent))
                try:
                    for start in range(0, len(sent), chunk):
                        time.sleep(pace)
                        self.wfile.write(sent[start : start + chunk])
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client went away (a test killed it)
                if truncate:
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def http_server():
    server = Server()
    yield server
    server.close()


def run(cmd, cwd, check=True, env=None):
    """Run a command, returning the CompletedProcess; on failure show its output."""
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"{cmd} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def update_params(repo, changes):
    """Set dotted keys of repo/params.yaml, keeping its comments."""
    yaml = YAML()
    path = Path(repo) / "params.yaml"
    data = yaml.load(path.read_text())
    for dotted, value in changes.items():
        *sections, key = dotted.split(".")
        node = data
        for section in sections:
            node = node[section]
        node[key] = value
    with path.open("w") as f:
        yaml.dump(data, f)


# Parameters that make every stage run in seconds on the tiny corpus.
TINY_PARAMS = {
    "corpus.path": "corpora/tiny.txt",
    "ngram.max_order": 3,
    "hidden_size": 16,
    "num_layers": 1,
    "charrnn.embedding_dim": 8,
    "charrnn.seq_len": 16,
    "charrnn.batch_size": 4,
    "charrnn.steps": 30,
    "charrnn.warmup_steps": 5,
    "charrnn.log_every": 5,
    "charrnn.eval_every": 10,
    "charrnn.eval_chars": 300,
    "charrnn.checkpoint_every": 10,
    "charrnn.device": "cpu",
    "charrnn.threads": 1,
    "dynamic_eval.gradient_chars": 2000,
    "dynamic_eval.device": "cpu",
    "dynamic_eval.threads": 1,
    "generate.length": 60,
    "wavernn.hidden_size": 8,
    "wavernn.steps": 20,
    "wavernn.batch_size": 8,
    "wavernn.teacher_steps": 20,
    "wavernn.rollout_start": 5,
    "wavernn.rollout_end": 20,
    "wavernn.rollout_final": 30,
    "wavernn.log_every": 5,
    "wavernn.eval_every": 10,
    "wavernn.checkpoint_every": 10,
    "wavernn.device": "cpu",
    "evaluate_wave.count": 50,
    "evaluate_wave.length": 200,
    "evaluate_wave.warmup": 20,
}


def make_project(repo):
    """A copy of the project in a fresh git + DVC repo at `repo`, with a tiny corpus and tiny params, committed."""
    repo.mkdir()
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    (repo / "corpora/tiny.txt").write_text(TINY_TEXT)
    update_params(repo, TINY_PARAMS)
    run(["git", "init", "-q", "-b", "main"], repo)
    run(["git", "config", "user.email", "tests@example.invalid"], repo)
    run(["git", "config", "user.name", "tests"], repo)
    commit(repo, "tiny project")
    return repo


def commit(repo, message):
    """Stage everything and commit it."""
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-q", "-m", message], repo)


@pytest.fixture
def project(tmp_path):
    """The tiny project, committed, nothing reproduced yet."""
    return make_project(tmp_path / "repo")


def python_stage(name, cwd, check=True):
    """Run `python -m stages.NAME` in `cwd` as the pipeline does."""
    env = dict(os.environ, PYTHONPATH=str(cwd))
    return run([sys.executable, "-m", f"stages.{name}"], cwd, check=check, env=env)


def module_main(name, cwd, *args, check=True):
    """`python -m NAME *args` in `cwd`, run in this process (runpy, as `-m` runs it: the module's
    `if __name__ == "__main__":` block included), without the 2.5 s a fresh interpreter spends
    importing torch and DVC. A CompletedProcess, as `run` returns: stdout, stderr (log lines included,
    as the process would print them) and the exit code; an exception that escapes comes back as its
    traceback in stderr, exit code 1.

    It runs this checkout's code, not a copy of it under `cwd`: a test that edits the copy, or that
    needs a process of its own (a kill, a resume checkpoint's fingerprint of the imported code, what
    the interpreter prints), starts one.
    """
    root = logging.getLogger()
    saved = root.handlers[:], root.level, sys.argv, os.getcwd(), torch.get_num_threads()
    stdout, stderr = io.StringIO(), io.StringIO()
    root.handlers.clear()  # as in a fresh process: the script's logging.basicConfig takes effect
    root.setLevel(logging.WARNING)
    sys.argv = [f"{name.replace('.', '/')}.py", *args]
    code = 0
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                with warnings.catch_warnings():  # the tests imported the module already; `-m` runs it afresh
                    warnings.filterwarnings("ignore", "'.*' found in sys.modules after import of package", RuntimeWarning)
                    runpy.run_module(name, run_name="__main__")
            except SystemExit as exit:
                code = exit.code if isinstance(exit.code, int) else 1
                if isinstance(exit.code, str):
                    print(exit.code, file=sys.stderr)
            except Exception:
                traceback.print_exc()
                code = 1
    finally:
        root.handlers[:], level, sys.argv, cwd_before, threads = saved
        root.setLevel(level)
        os.chdir(cwd_before)
        torch.set_num_threads(threads)
    result = subprocess.CompletedProcess([sys.executable, "-m", name, *args], code, stdout.getvalue(), stderr.getvalue())
    if check and code != 0:
        raise AssertionError(f"python -m {name} {' '.join(args)} failed ({code}):\n{result.stdout}\n{result.stderr}")
    return result


def stage_main(name, cwd, *args, check=True):
    """`python -m stages.NAME *args` in `cwd`, in this process (see module_main): the script's
    `cli.run(main)`, so a UserError gives its one line and exit code 2."""
    return module_main(f"stages.{name}", cwd, *args, check=check)


def shared_folder(tmp_path_factory, name):
    """A folder for one test run's shared fixtures: with pytest-xdist, the workers' common base
    folder (each worker's own is inside it), so that they share what one of them built."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name


def build_once(folder, build):
    """`build(folder)` unless a process of this test run already built it; a lock makes the others wait."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{folder}.lock"):
        if not (folder / ".built").exists():
            shutil.rmtree(folder, ignore_errors=True)  # what a failed build left
            folder.mkdir()
            build(folder)
            (folder / ".built").touch()
    return folder


@pytest.fixture(scope="session")
def reproduced(tmp_path_factory):
    """The tiny project after `dvc repro`, its git-tracked outputs committed on main. Built once per test
    run and shared by every test (and pytest-xdist worker): read it, or copy it (the `repo` fixture)."""

    def build(folder):
        repo = make_project(folder / "repo")
        result = run(["dvc", "repro"], repo)
        (folder / "repro.out").write_text(result.stdout)  # what `dvc repro` printed, beside the repo
        commit(repo, "reproduced")

    return build_once(shared_folder(tmp_path_factory, "reproduced"), build) / "repo"


@pytest.fixture
def repo(reproduced, tmp_path):
    """A private copy of the reproduced project (git history, DVC cache and run-cache included)."""
    return shutil.copytree(reproduced, tmp_path / "repo", symlinks=True)


def wait_for_the_queue(repo, seconds=300):
    """Poll `dvc queue status` until nothing is queued or running; return its last output."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = run(["dvc", "queue", "status"], repo).stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(2)
    run(["dvc", "queue", "stop"], repo, check=False)
    return status


def edit_the_model_code(repo):
    """A harmless numeric edit of stages/lib/models.py: the char-RNN's decoder starts at half the scale."""
    models = repo / "stages/lib/models.py"
    source = models.read_text()
    edited = re.sub(r"\n( +)(self\.decoder = nn\.Linear\(.*\))\n", r"\n\1\2\n\1self.decoder.weight.data.mul_(0.5)\n", source, count=1)
    assert edited != source, "no `self.decoder = nn.Linear(...)` line in stages/lib/models.py to edit"
    models.write_text(edited)


class Sweep:
    """The swept project (`repo`, a private copy) and what its queue printed: `status`, the last
    `dvc queue status`; `logs`, {experiment name: `dvc queue logs` output}; `experiments`, as
    conftest.experiments returns them."""

    def __init__(self, folder, repo):
        self.repo = repo
        self.status = (folder / "status.txt").read_text()
        self.logs = json.loads((folder / "logs.json").read_text())
        self.experiments = json.loads((folder / "experiments.json").read_text())


@pytest.fixture(scope="session")
def swept(reproduced, tmp_path_factory):
    """The folder of the suite's one queued sweep, run once per test run (and shared by the
    pytest-xdist workers) by `dvc queue start -j 2` on the reproduced tiny project: seeds 0 and 1
    on the committed code (committed-0, committed-1), the same params and seeds after an edit of
    stages/lib/models.py (edited-0, edited-1), hidden_size=12 on seeds 2 and 3 with
    charrnn.threads=0, and one whose params are refused (charrnn.lr=-1): it fails."""

    def build(folder):
        repo = shutil.copytree(reproduced, folder / "repo", symlinks=True)
        for seed in (0, 1):
            run(["dvc", "exp", "run", "--queue", "-n", f"committed-{seed}", "-S", f"charrnn.seed={seed}"], repo)
        run(["dvc", "exp", "run", "--queue", "-S", "hidden_size=12", "-S", "charrnn.threads=0", "-S", "charrnn.seed=2,3"], repo)
        run(["dvc", "exp", "run", "--queue", "-S", "hidden_size=12", "-S", "charrnn.seed=4", "-S", "charrnn.lr=-1"], repo)
        edit_the_model_code(repo)
        for seed in (0, 1):
            run(["dvc", "exp", "run", "--queue", "-n", f"edited-{seed}", "-S", f"charrnn.seed={seed}"], repo)
        run(["git", "checkout", "--", "stages/lib/models.py"], repo)  # the queue keeps its own copy of the workspace
        run(["dvc", "queue", "start", "-j", "2"], repo)
        (folder / "status.txt").write_text(wait_for_the_queue(repo, seconds=600))
        found = experiments(repo)
        (folder / "experiments.json").write_text(json.dumps(found))
        logs = {name: run(["dvc", "queue", "logs", name], repo, check=False).stdout for name in found}
        (folder / "logs.json").write_text(json.dumps(logs))

    return build_once(shared_folder(tmp_path_factory, "sweep"), build)


@pytest.fixture
def sweep(swept, tmp_path):
    """The suite's queued sweep (see swept, Sweep), in a private copy of its project."""
    return Sweep(swept, shutil.copytree(swept / "repo", tmp_path / "swept", symlinks=True))


def snapshot(repo):
    """The bytes of every pipeline output: git-tracked files (metrics, plots, samples) and DVC-cached data."""
    files = [p for folder in ("metrics", "plots", "samples", "data") for p in sorted((repo / folder).rglob("*")) if p.is_file()]
    return {str(p.relative_to(repo)): p.read_bytes() for p in files if ".gitignore" not in p.name}


def reset(repo):
    """Back to the committed workspace, as a user would: git and DVC both."""
    run(["git", "reset", "-q", "--hard"], repo)
    run(["dvc", "checkout", "-f"], repo)


def stages_run(output):
    """The stages a `dvc repro` / `dvc exp run` printed as running."""
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")}


def stages_restored(output):
    """The stages a `dvc repro` / `dvc exp run` restored from the run-cache."""
    return {line.split("'")[1] for line in output.splitlines() if "is cached - skipping run" in line}


def experiments(repo):
    """{experiment name: {"params": params.yaml, "metrics": {path: data}}} from `dvc exp show --json`."""
    found = {}
    for baseline in json.loads(run(["dvc", "exp", "show", "--json"], repo).stdout):
        for experiment in baseline.get("experiments") or []:
            for revision in experiment["revs"]:
                data = revision["data"]
                found[revision["name"]] = {
                    "params": data["params"]["params.yaml"]["data"],
                    "metrics": {path: value["data"] for path, value in data["metrics"].items()},
                }
    return found
