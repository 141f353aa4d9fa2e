"""Comparing runs the DVC way, end to end on the tiny project: -S experiments, a queued sweep,
diffs across git branches, `dvc plots`, and a DVC remote."""

import json
import math
import time

import pytest
from ruamel.yaml import YAML

from conftest import commit, experiments, reset, run, snapshot, stages_restored, stages_run, update_params

TEXT_STAGES = ("train_charrnn", "generate", "mix")
WAVE_STAGES = ("train_wavernn", "evaluate_wave")
DATA_STAGES = ("download", "vocab", "ngram")


def test_set_reruns_only_the_stages_that_read_it_and_an_identical_run_is_restored(repo):
    baseline = json.loads((repo / "metrics/charrnn.json").read_text())
    baseline_wave = json.loads((repo / "metrics/wave.json").read_text())
    result = run(["dvc", "exp", "run", "-n", "wider-text", "-S", "hidden_size=12"], repo)
    assert stages_run(result.stdout) == {*TEXT_STAGES, "plot"}

    result = run(["dvc", "exp", "run", "-n", "wider-wave", "-S", "wavernn.hidden_size=6"], repo)
    assert stages_run(result.stdout) == {*WAVE_STAGES, "plot"}

    found = experiments(repo)
    assert found["wider-text"]["params"]["hidden_size"] == 12
    assert found["wider-wave"]["params"]["wavernn"]["hidden_size"] == 6
    assert found["wider-text"]["metrics"]["metrics/charrnn.json"]["val_loss"] != pytest.approx(baseline["val_loss"])
    wider_wave = found["wider-wave"]["metrics"]["metrics/wave.json"]["mse_mean"]
    assert math.isfinite(wider_wave) and wider_wave != baseline_wave["mse_mean"]
    assert found["wider-text"]["metrics"]["metrics/wave.json"]["mse_mean"] == baseline_wave["mse_mean"]  # not rerun

    # The same experiment again, from the committed workspace: DVC's run-cache restores it.
    outputs = snapshot(repo)
    assert found["wider-wave"]["params"]["hidden_size"] == 12  # -S changes add up in the workspace
    reset(repo)
    assert snapshot(repo) != outputs
    again = run(["dvc", "exp", "run", "-S", "hidden_size=12", "-S", "wavernn.hidden_size=6"], repo)
    assert stages_restored(again.stdout) == {"train_charrnn", "mix", "train_wavernn", "evaluate_wave", "plot"}
    assert stages_run(again.stdout) == {"generate"}  # no training: seeded sampling, seconds
    assert snapshot(repo) == outputs


def test_a_queued_sweep_runs_every_point_one_thread_per_worker(repo):
    # threads=0 leaves the choice to the stage: one thread each in a queue worker
    run(["dvc", "exp", "run", "--queue", "-S", "hidden_size=8,12", "-S", "charrnn.threads=0"], repo)
    run(["dvc", "queue", "start", "-j", "2"], repo)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        status = run(["dvc", "queue", "status"], repo).stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(2)
    run(["dvc", "queue", "stop"], repo, check=False)
    assert "Failed" not in status, status
    sizes = {}
    for name, experiment in experiments(repo).items():
        sizes[experiment["params"]["hidden_size"]] = experiment["metrics"]["metrics/charrnn.json"]["val_loss"]
        assert "torch CPU threads: 1" in run(["dvc", "queue", "logs", name], repo).stdout
    assert set(sizes) == {8, 12}
    assert sizes[8] != sizes[12] and all(math.isfinite(loss) for loss in sizes.values())


def test_metrics_params_and_plots_differ_across_branches(repo, tmp_path):
    run(["git", "checkout", "-q", "-b", "other"], repo)
    update_params(repo, {"hidden_size": 12, "wavernn.hidden_size": 6})
    assert stages_run(run(["dvc", "repro"], repo).stdout) == {*TEXT_STAGES, *WAVE_STAGES, "plot"}
    commit(repo, "other sizes")

    params = json.loads(run(["dvc", "params", "diff", "main", "other", "--json"], repo).stdout)["params.yaml"]
    assert params["hidden_size"] == {"old": 16, "new": 12, "diff": -4}
    assert params["wavernn.hidden_size"] == {"old": 8, "new": 6, "diff": -2}

    metrics = json.loads(run(["dvc", "metrics", "diff", "main", "other", "--json"], repo).stdout)
    assert metrics["metrics/charrnn.json"]["val_loss"]["diff"] != 0
    assert metrics["metrics/wave.json"]["mse_mean"]["diff"] != 0
    table = run(["dvc", "metrics", "diff", "main", "other"], repo).stdout
    assert "metrics/charrnn.json" in table and "metrics/wave.json" in table

    out = tmp_path / "plots-diff"
    run(["dvc", "plots", "diff", "main", "other", "-o", str(out)], repo)
    page = (out / "index.html").read_text()
    stages = YAML(typ="safe").load((repo / "dvc.yaml").read_text())["stages"]
    titles = [props["title"] for stage in stages.values() for plot in stage.get("plots", []) for props in plot.values() if "title" in props]
    assert len(titles) == 7
    for title in titles:
        assert page.count(f'"text": "{title}"') == 1, title  # each curve drawn once, both revisions in it
    for image in ("charrnn_loss.png", "wavernn_loss.png", "wave_examples.png", "wave_mse.png", "bits_per_char.png"):
        assert image in page
    assert len(list(out.rglob("*.png"))) == 10  # each figure at both revisions


def test_outputs_travel_through_a_remote(repo, tmp_path):
    storage = tmp_path / "storage"
    run(["dvc", "remote", "add", "-d", "local", str(storage)], repo)
    commit(repo, "a local remote")
    assert "pushed" in run(["dvc", "push"], repo).stdout

    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    assert not (clone / "data/charrnn.pt").exists()
    run(["dvc", "pull"], clone)
    assert (clone / "data/charrnn.pt").read_bytes() == (repo / "data/charrnn.pt").read_bytes()
    assert "Data and pipelines are up to date" in run(["dvc", "status"], clone).stdout
