"""Experiments across machines: two clones share a bare git remote and a local DVC remote, as two
machines would share a git server and S3/SSH/GCS storage."""

import shutil

import pytest
from conftest import commit, experiments, module_main, reset, run, stages_restored, stages_run


@pytest.fixture
def machines(reproduced, tmp_path):
    """(machine A, machine B): clones of one bare git remote `origin`, with one default DVC remote."""
    origin = tmp_path / "origin.git"
    run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], tmp_path)
    a = shutil.copytree(reproduced, tmp_path / "a", symlinks=True)
    run(["git", "remote", "add", "origin", str(origin)], a)
    run(["dvc", "remote", "add", "-d", "storage", str(tmp_path / "storage")], a)
    commit(a, "a DVC remote")
    run(["git", "push", "-q", "origin", "main"], a)
    run(["dvc", "push"], a)
    b = tmp_path / "b"
    run(["git", "clone", "-q", str(origin), str(b)], tmp_path)
    for machine in (a, b):
        run(["git", "config", "user.email", "tests@example.invalid"], machine)
        run(["git", "config", "user.name", "tests"], machine)
    run(["dvc", "pull"], b)
    return a, b


def test_experiments_and_the_run_cache_travel_between_machines(machines):
    a, b = machines
    change = ["-S", "hidden_size=10", "-S", "wavernn.hidden_size=6"]
    trained = run(["dvc", "exp", "run", "-n", "from-a", *change], a)
    assert {"train_charrnn", "train_wavernn"} <= stages_run(trained.stdout)
    run(["dvc", "exp", "push", "origin", "from-a"], a)
    # `dvc push --run-cache` plus the git-tracked outputs its entries name (DVC 3 omits those)
    pushed = module_main("stages.lib.run_cache", a, "push")
    assert "run-cache entries;" in pushed.stderr

    # B runs the same experiment: A's run-cache restores every stage, nothing trains.
    run(["dvc", "pull", "--run-cache"], b)  # the entries; `--pull` fetches the outputs they name
    restored = run(["dvc", "exp", "run", "--pull", *change], b)
    assert stages_restored(restored.stdout) == {"train_charrnn", "dynamic_eval", "mix", "train_wavernn", "evaluate_wave", "plot"}
    assert stages_run(restored.stdout) == {"generate"}  # seeded sampling, no training
    for output in ("metrics/charrnn.json", "metrics/wave.json", "plots/charrnn_train.csv", "data/wavernn.pt", "samples/charrnn.txt"):
        assert (b / output).read_bytes() == (a / output).read_bytes(), output

    # B sees A's experiment itself, with its params and metrics, and applies it.
    run(["dvc", "exp", "pull", "origin", "from-a"], b)
    found = experiments(b)["from-a"]
    assert found["params"]["hidden_size"] == 10
    assert found["metrics"]["metrics/charrnn.json"] == experiments(a)["from-a"]["metrics"]["metrics/charrnn.json"]
    reset(b)
    run(["dvc", "exp", "apply", "from-a"], b)
    run(["dvc", "pull"], b)
    assert (b / "data/charrnn.pt").read_bytes() == (a / "data/charrnn.pt").read_bytes()
    assert "up to date" in run(["dvc", "status"], b).stdout
