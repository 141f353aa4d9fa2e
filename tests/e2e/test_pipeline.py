"""The real pipeline, run by DVC in a temporary git repo with tiny parameters."""

import json
import os
import signal
import sys

import numpy as np
import pandas as pd

from conftest import ROOT, python_stage, run, update_params
from stages.lib import ngram
from test_training import kill_after_first_checkpoint, results


def test_dvc_repro_runs_the_pipeline(reproduced):
    project = reproduced
    printed = (reproduced.parent / "repro.out").read_text()
    for stage in ("download", "vocab", "ngram", "train_charrnn", "generate", "mix", "train_wavernn", "evaluate_wave", "plot"):
        assert f"Running stage '{stage}'" in printed
    ngram_metrics = json.loads((project / "metrics/ngram.json").read_text())
    assert set(ngram_metrics) >= {"val_loss", "val_bpc", "best_order", "best_val_bpc", "per_order"}
    assert ngram_metrics["per_order"]["3"]["val_loss"] < ngram_metrics["per_order"]["1"]["val_loss"]
    vocab = json.loads((project / "data/vocab.json").read_text())
    assert vocab["unknown_index"] == 0 and vocab["chars"] == sorted(vocab["chars"])
    charrnn = json.loads((project / "metrics/charrnn.json").read_text())
    assert set(charrnn) >= {"val_loss", "val_bpc", "train_loss", "steps", "chars_per_s"}
    assert charrnn["steps"] == 30
    assert (project / "samples/charrnn.txt").read_text().startswith("ROMEO:\n")
    assert len((project / "samples/ngram.txt").read_text()) == len("ROMEO:\n") + 60 + 1
    mix = json.loads((project / "metrics/mix.json").read_text())
    rnn = -np.load(project / "data/charrnn_val_nll.npy")
    ngram_logprob = np.load(project / "data/ngram_val_logprob.npy")
    half = len(rnn) // 2
    weight = ngram.fit_mix_weight(rnn[:half], ngram_logprob[:half])  # recomputed from the per-character files
    assert mix["rnn_weight"] == round(weight, 4)
    assert mix["val_loss_mix"] == round(ngram.mixed_nll(rnn[half:], ngram_logprob[half:], weight), 5)
    assert mix["second_half"]["charrnn"] == round(float(-rnn[half:].mean()), 5)
    wave = json.loads((project / "metrics/wave.json").read_text())
    assert set(wave) >= {"mse_mean", "mse_median", "mse_worst", "mse_best", "zero_predictor_mse_mean"}
    assert wave["waves"] == 50
    table = (project / "metrics/wave_per_sequence.csv").read_text().splitlines()
    assert table[0] == "wave,amplitude,phase,mse" and len(table) == 51
    for name in ("best", "worst"):
        table = pd.read_csv(project / f"plots/wave_{name}.csv")
        assert list(table.columns) == ["step", "truth", "prediction", "error"]
        assert table.step.tolist() == list(range(20, 200))  # the predicted steps only: no empty cell
        assert np.allclose(table.error, table.prediction - table.truth, rtol=1e-6, atol=1e-6)
    val_points = pd.read_csv(project / "plots/charrnn_val.csv")
    train_log = pd.read_csv(project / "plots/charrnn_train.csv")
    assert list(val_points.columns) == ["step", "val_loss"] and val_points.step.tolist() == [10, 20]
    assert train_log.dropna(subset=["val_loss_full"]).step.tolist() == [30]
    assert round(train_log.val_loss_full.iloc[-1], 5) == charrnn["val_loss"]  # the whole split, apart from the monitor slice
    assert val_points.val_loss.tolist() == train_log.dropna(subset=["val_loss"]).val_loss.tolist()
    for figure in ("charrnn_loss", "wavernn_loss", "wave_examples", "wave_mse", "bits_per_char"):
        assert (project / f"plots/{figure}.png").read_bytes().startswith(b"\x89PNG")
    status = run(["dvc", "status"], project)
    assert "up to date" in status.stdout


def test_bad_param_stops_the_stage_before_any_work(project):
    run(["dvc", "repro", "ngram"], project)
    before = (project / "metrics/ngram.json").read_text()
    update_params(project, {"ngram.max_order": 0})
    direct = python_stage("ngram", project, check=False)
    assert direct.returncode == 2
    assert "'ngram.max_order' is 0; allowed: int >= 1" in direct.stderr
    assert (project / "metrics/ngram.json").read_text() == before
    # Through DVC: the same message and a failed repro; DVC itself removes a stage's
    # outputs before running it, and no partial file is left in their place.
    result = run(["dvc", "repro", "ngram"], project, check=False)
    assert result.returncode != 0
    assert "'ngram.max_order' is 0" in result.stderr + result.stdout
    assert list((project / "metrics").iterdir()) == []


def test_dvc_repro_resumes_a_killed_training(project):
    update_params(project, {"charrnn.steps": 400, "charrnn.checkpoint_every": 40})
    run(["dvc", "repro", "vocab"], project)
    python_stage("train_charrnn", project)  # the unbroken run, outside DVC (no run-cache entry)
    unbroken = results(project, "train_charrnn")
    for output in ("data/charrnn.pt", "metrics/charrnn.json", "plots/charrnn_train.csv"):
        (project / output).unlink()

    resume_file = project / "data/resume/charrnn.pt"
    code = kill_after_first_checkpoint(["dvc", "repro", "train_charrnn"], project, resume_file)
    assert code == -signal.SIGKILL
    rerun = run(["dvc", "repro", "train_charrnn"], project)
    assert "resuming from data/resume/charrnn.pt" in rerun.stderr + rerun.stdout
    assert results(project, "train_charrnn") == unbroken


def test_stage_and_benchmark_scripts_also_run_by_path(project):
    # requirements.txt installs the checkout in editable mode, so `stages` imports from anywhere
    for script in ("stages/download.py", "stages/vocab.py"):
        result = run([sys.executable, script], project)
        assert "Traceback" not in result.stderr
    assert json.loads((project / "data/vocab.json").read_text())["unknown_index"] == 0
    usage = run([sys.executable, str(ROOT / "benchmarks/char_seeds.py"), "--help"], project)
    assert usage.stdout.startswith("usage:")


def test_char_seeds_retrains_the_stage_model_and_reports_the_spread(repo):
    env = dict(os.environ, PYTHONPATH=str(ROOT))  # benchmarks/ is not part of the tiny project
    result = run([sys.executable, "-m", "benchmarks.char_seeds", "--seeds", "0,1"], repo, env=env)
    summary = json.loads(result.stdout.splitlines()[-1])
    assert summary["seeds"] == [0, 1]
    stage_loss = json.loads((repo / "metrics/charrnn.json").read_text())["val_loss"]
    assert summary["val_loss"][0] == stage_loss  # seed 0 is the stage's own run, to the last digit
    assert summary["val_loss"][1] != stage_loss
    assert summary["mean"] == round(float(np.mean(summary["val_loss"])), 5)
    assert summary["std"] == round(float(np.std(summary["val_loss"], ddof=1)), 5)
    one_seed = run([sys.executable, "-m", "benchmarks.char_seeds", "--seeds", "1"], repo, env=env)
    assert "std undefined (sample, n=1)" in one_seed.stdout
    assert json.loads(one_seed.stdout.splitlines()[-1])["std"] is None
