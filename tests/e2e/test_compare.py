"""Comparing runs the DVC way, end to end on the tiny project: -S experiments, a queued sweep,
diffs across git branches, `dvc plots`, and a DVC remote."""

import json
import math
import os
import statistics
import sys

import numpy as np
import pytest
from ruamel.yaml import YAML
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests

from conftest import commit, experiments, reset, run, snapshot, stages_restored, stages_run, update_params

TEXT_STAGES = ("train_charrnn", "dynamic_eval", "generate", "mix")
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
    assert stages_restored(again.stdout) == {"train_charrnn", "dynamic_eval", "mix", "train_wavernn", "evaluate_wave", "plot"}
    assert stages_run(again.stdout) == {"generate"}  # no training: seeded sampling, seconds
    assert snapshot(repo) == outputs


def test_each_model_has_its_own_seed_and_a_seed_sweep_of_one_never_retrains_the_other(repo):
    result = run(["dvc", "exp", "run", "-S", "charrnn.seed=1"], repo)
    assert stages_run(result.stdout) == {*TEXT_STAGES, "plot"}
    reset(repo)
    result = run(["dvc", "exp", "run", "-S", "wavernn.seed=1"], repo)
    assert stages_run(result.stdout) == {*WAVE_STAGES, "plot"}


def test_a_queued_sweep_runs_every_point_one_thread_per_worker(sweep):
    assert sweep.status.count("Failed") == 1 and sweep.status.count("Success") == 6, sweep.status  # only charrnn.lr=-1 fails
    losses = {}
    for name, experiment in sweep.experiments.items():
        params = experiment["params"]
        if params["charrnn"]["lr"] < 0:
            continue
        losses[params["hidden_size"], params["charrnn"]["seed"]] = experiment["metrics"]["metrics/charrnn.json"]["val_loss"]
        if params["charrnn"]["threads"] == 0:  # threads=0 leaves the choice to the stage: one thread each in a queue worker
            assert "torch CPU threads: 1" in sweep.logs[name]
    assert {size for size, _ in losses} == {16, 12}
    assert losses[12, 2] != losses[16, 0] and all(math.isfinite(loss) for loss in losses.values())


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
    assert len(titles) == 10
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


def markdown_rows(text, heading):
    """{group: {column: cell}} of the Markdown table under `## heading`."""
    lines = text.split(f"## {heading}", 1)[1].split("## ", 1)[0].strip().splitlines()
    table = [line for line in lines if line.startswith("|")]
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    return {cells[0]: dict(zip(header, cells)) for cells in ([c.strip() for c in row.strip("|").split("|")] for row in table[2:])}


def row_with(rows, part):
    """The one row whose group contains `part`."""
    [row] = [row for group, row in rows.items() if part in group]
    return row


def test_compare_tells_two_versions_of_the_code_apart_with_a_paired_test(sweep, tmp_path):
    repo = sweep.repo
    figure = tmp_path / "compare.png"
    before = run(["git", "status", "--porcelain"], repo).stdout
    result = run([sys.executable, "-m", "stages.compare", "--md", "--png", str(figure), "--margin", "metrics/charrnn.json:val_loss=0.5"],
                 repo, env=dict(os.environ, PYTHONPATH=str(repo)))
    assert result.stdout.startswith("8 runs (workspace, main, ") and "left out: 1 failed" in result.stdout, result.stdout
    loss, wider = {}, []
    for name, experiment in sweep.experiments.items():
        params = experiment["params"]
        if params["charrnn"]["lr"] < 0:
            continue  # the failed one
        loss[name] = experiment["metrics"]["metrics/charrnn.json"]["val_loss"]
        if params["hidden_size"] == 12:
            wider.append(loss[name])
    main = json.loads((repo / "metrics/charrnn.json").read_text())["val_loss"]
    assert loss["committed-0"] == main  # the same seed, params and code: the run-cache gave the same run
    committed, edited = [main, loss["committed-1"]], [loss["edited-0"], loss["edited-1"]]
    assert edited != committed and len(wider) == 2

    text = markdown_rows(result.stdout, "metrics/charrnn.json:val_loss (lower is better)")
    assert "3 groups: equal params apart from charrnn.seed, and equal code of download, train_charrnn, vocab; 2 reruns of a seed counted once" in result.stdout
    baseline = row_with(text, "hidden_size=16; code: stages/lib/models.py as in main (baseline)")
    changed = row_with(text, "hidden_size=16; code: stages/lib/models.py as in edited-")
    other = row_with(text, "hidden_size=12; code: stages/lib/models.py as in main")  # the committed code, as the baseline's
    assert baseline["n"] == changed["n"] == other["n"] == "2", result.stdout
    assert float(baseline["mean"]) == pytest.approx(statistics.fmean(committed), rel=1e-4)
    assert float(changed["mean"]) == pytest.approx(statistics.fmean(edited), rel=1e-4)
    paired, welch = scipy_stats.ttest_rel(edited, committed), scipy_stats.ttest_ind(wider, committed, equal_var=False)
    assert changed["test"] == "paired t, 2 seeds" and float(changed["p"]) == pytest.approx(paired.pvalue, rel=5e-3)
    assert other["test"] == "Welch t" and float(other["p"]) == pytest.approx(welch.pvalue, rel=5e-3)
    holm = multipletests([paired.pvalue, welch.pvalue], method="holm")[1]
    assert [float(changed["p (Holm)"]), float(other["p (Holm)"])] == pytest.approx(list(holm), rel=5e-3)
    differences = np.subtract(edited, committed)
    tost = max(scipy_stats.ttest_1samp(differences, -0.5, alternative="greater").pvalue, scipy_stats.ttest_1samp(differences, 0.5, alternative="less").pvalue)
    assert float(changed["p (TOST ±0.5)"]) == pytest.approx(tost, rel=5e-3)
    assert changed["verdict"].split(", ")[0] in ("better", "worse", "no evidence of a difference")
    assert f"- {changed['group']}: metrics/charrnn.json:val_loss {changed['vs baseline']} against the baseline (paired t-test on the 2 seeds" in result.stdout

    waves = markdown_rows(result.stdout, "metrics/wave.json:mse_mean (lower is better)")
    assert "p (TOST ±0.5)" not in next(iter(waves.values()))  # the margin was the char model's alone
    assert row_with(waves, "as in main (baseline)")["n"] == "1"  # every run shares wavernn.seed 0: one wave run per version of the code
    assert row_with(waves, "as in edited-")["verdict"] == "no p-value: spread unknown (needs 2 seeds or more in both groups)"
    assert "machines" not in result.stdout  # one machine trained them all
    assert figure.read_bytes().startswith(b"\x89PNG")
    assert run(["git", "status", "--porcelain"], repo).stdout == before  # it writes nothing but the figure asked for


@pytest.mark.parametrize("options, message", [
    (["--metric", "metrics/charrnn.json:nope"], "error: --metric: no run has 'metrics/charrnn.json:nope'; metrics that exist: "),
    (["--metric", "val_loss"], "error: --metric: 'val_loss' must be FILE:KEY"),
    (["--baseline", "nobody"], "error: --baseline: no run called 'nobody'; runs: workspace, main"),
    (["--margin", "0"], "error: --margin: '0' must be a positive number X or FILE:KEY=X"),
])
def test_compare_refuses_bad_input_in_one_line(repo, options, message):
    result = run([sys.executable, "-m", "stages.compare", *options], repo, check=False, env=dict(os.environ, PYTHONPATH=str(repo)))
    assert result.returncode == 2 and result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr


def test_compare_without_any_run_says_so(project):
    result = run([sys.executable, "-m", "stages.compare"], project, check=False, env=dict(os.environ, PYTHONPATH=str(project)))
    assert result.returncode == 2 and result.stderr == "error: no runs with metrics: run `dvc repro` or `dvc exp run` first\n"
