"""The real pipeline, run by DVC in a temporary git repo with tiny parameters."""

import json
import os
import signal
import sys

import numpy as np
import pandas as pd
from ruamel.yaml import YAML

from conftest import ROOT, module_main, run, stage_main, stages_run, update_params
from stages.lib import ngram
from test_training import kill_after_first_checkpoint, results


def test_dvc_repro_runs_the_pipeline(reproduced, repo):
    project = repo  # a copy: `dvc status` below writes to .dvc/tmp, and `reproduced` is shared
    printed = (reproduced.parent / "repro.out").read_text()
    for stage in ("download", "vocab", "ngram", "train_charrnn", "dynamic_eval", "generate", "mix", "train_wavernn", "evaluate_wave", "plot"):
        assert f"Running stage '{stage}'" in printed
    ngram_metrics = json.loads((project / "metrics/ngram.json").read_text())
    assert set(ngram_metrics) >= {"test_loss", "test_bpc", "val_loss", "val_bpc", "best_order", "best_order_test_bpc", "per_order"}
    assert ngram_metrics["per_order"]["3"]["test_loss"] < ngram_metrics["per_order"]["1"]["test_loss"]
    vocab = json.loads((project / "data/vocab.json").read_text())
    assert vocab["unknown_index"] == 0 and vocab["chars"] == sorted(vocab["chars"])
    charrnn = json.loads((project / "metrics/charrnn.json").read_text())
    assert set(charrnn) == {"test_loss", "test_bpc", "val_loss", "val_bpc", "train_loss", "steps", "cpu", "threads", "device"}
    assert charrnn["steps"] == 30 and charrnn["threads"] == 1 and charrnn["device"] == "cpu"
    timing = pd.read_csv(project / "plots/charrnn_timing.csv")
    assert list(timing.columns) == ["step", "train_seconds", "chars_per_s"] and timing.step.iloc[-1] == 30
    assert (project / "samples/charrnn.txt").read_text().startswith("ROMEO:\n")
    assert len((project / "samples/ngram.txt").read_text()) == len("ROMEO:\n") + 60 + 1
    mix = json.loads((project / "metrics/mix.json").read_text())
    scores = {split: (-np.load(project / f"data/charrnn_{split}_nll.npy"), np.load(project / f"data/ngram_{split}_logprob.npy"))
              for split in ("val", "test")}
    test_text = np.load(project / "data/test.npy")
    assert len(scores["test"][0]) == len(scores["test"][1]) == len(test_text) - 1  # both models on the same test text
    assert round(float(-scores["test"][0].mean()), 5) == charrnn["test_loss"]
    assert round(float(-scores["test"][1].mean()), 4) == ngram_metrics["test_loss"]
    weight = ngram.fit_mix_weight(*scores["val"])  # fitted on val, recomputed from the per-character files
    assert mix["rnn_weight"] == round(weight, 4)
    test_mix = ngram.mixed_nll(*scores["test"], weight)
    assert mix["test_loss_mix"] == round(test_mix, 5)
    assert mix["test_bpc_mix"] == round(test_mix / np.log(2), 5)  # from the unrounded nats
    dynamic = json.loads((project / "metrics/dynamic.json").read_text())
    assert dynamic["static_test_loss"] == charrnn["test_loss"] and dynamic["static_val_loss"] == charrnn["val_loss"]
    adapted = {split: -np.load(project / f"data/dynamic_{split}_nll.npy") for split in ("val", "test")}
    assert adapted["test"].shape == scores["test"][1].shape and round(float(-adapted["test"].mean()), 5) == dynamic["test_loss"]
    assert dynamic["test_gain"] == round(charrnn["test_loss"] - float(-adapted["test"].mean()), 5) or abs(
        dynamic["test_gain"] - (dynamic["static_test_loss"] - dynamic["test_loss"])) <= 1e-5
    dynamic_weight = ngram.fit_mix_weight(adapted["val"], scores["val"][1])
    assert mix["rnn_weight_dynamic"] == round(dynamic_weight, 4)
    assert mix["test_loss_mix_dynamic"] == round(ngram.mixed_nll(adapted["test"], scores["test"][1], dynamic_weight), 5)
    cache = {split: np.load(project / f"data/cache_{split}_logprob.npy") for split in ("val", "test")}
    assert round(float(-cache["test"].mean()), 4) == ngram_metrics["cache_test_loss"]
    three = ngram.fit_mix_weights([adapted["val"], scores["val"][1], cache["val"]])
    assert (mix["rnn_weight_adaptive"], mix["cache_weight_adaptive"]) == (round(three[0], 4), round(three[2], 4))
    assert mix["test_loss_mix_adaptive"] == round(ngram.mixture_nll([adapted["test"], scores["test"][1], cache["test"]], three), 5)
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


def test_bad_param_stops_the_stage_before_any_work(repo):
    before = (repo / "metrics/ngram.json").read_text()
    others = sorted(path.name for path in (repo / "metrics").iterdir() if path.name != "ngram.json")
    update_params(repo, {"ngram.max_order": 0})
    direct = stage_main("ngram", repo, check=False)
    assert direct.returncode == 2
    assert "'ngram.max_order' is 0; allowed: int >= 1" in direct.stderr
    assert (repo / "metrics/ngram.json").read_text() == before
    # Through DVC: the same message and a failed repro; DVC itself removes a stage's
    # outputs before running it, and no partial file is left in their place.
    result = run(["dvc", "repro", "ngram"], repo, check=False)
    assert result.returncode != 0
    assert "'ngram.max_order' is 0" in result.stderr + result.stdout
    assert sorted(path.name for path in (repo / "metrics").iterdir()) == others  # the other stages' metrics only


def test_dvc_repro_resumes_a_killed_training(repo):
    update_params(repo, {"charrnn.steps": 400, "charrnn.checkpoint_every": 40})  # download and vocab: up to date
    stage_main("train_charrnn", repo)  # the unbroken run, outside DVC (no run-cache entry)
    unbroken = results(repo, "train_charrnn")
    for output in ("data/charrnn.pt", "metrics/charrnn.json", "plots/charrnn_train.csv"):
        (repo / output).unlink()

    resume_file = repo / "data/resume/charrnn.pt"
    code = kill_after_first_checkpoint(["dvc", "repro", "train_charrnn"], repo, resume_file)
    assert code == -signal.SIGKILL
    rerun = run(["dvc", "repro", "train_charrnn"], repo)
    assert "resuming from data/resume/charrnn.pt" in rerun.stderr + rerun.stdout
    assert stages_run(rerun.stdout) == {"train_charrnn"}
    assert results(repo, "train_charrnn") == unbroken


def test_stage_and_benchmark_scripts_also_run_by_path(project):
    # requirements.txt installs the checkout in editable mode, so `stages` imports from anywhere
    for script in ("stages/download.py", "stages/vocab.py"):
        result = run([sys.executable, script], project)
        assert "Traceback" not in result.stderr
    assert json.loads((project / "data/vocab.json").read_text())["unknown_index"] == 0
    usage = run([sys.executable, str(ROOT / "benchmarks/char_seeds.py"), "--help"], project)
    assert usage.stdout.startswith("usage:")


def test_char_seeds_retrains_the_stage_model_and_reports_the_spread(repo):
    result = module_main("benchmarks.char_seeds", repo, "--seeds", "0,1")  # this checkout's: benchmarks/ is not part of the tiny project
    summary = json.loads(result.stdout.splitlines()[-1])
    assert summary["seeds"] == [0, 1]
    stage_loss = json.loads((repo / "metrics/charrnn.json").read_text())["val_loss"]
    assert summary["val_loss"][0] == stage_loss  # seed 0 is the stage's own run, to the last digit
    assert summary["val_loss"][1] != stage_loss
    assert summary["mean"] == round(float(np.mean(summary["val_loss"])), 5)
    assert summary["std"] == round(float(np.std(summary["val_loss"], ddof=1)), 5)
    dynamic = json.loads((repo / "metrics/dynamic.json").read_text())
    assert summary["dynamic_val_loss"][0] == dynamic["val_loss"]  # and the dynamic_eval stage's, to the last digit
    assert summary["dynamic_mean"] == round(float(np.mean(summary["dynamic_val_loss"])), 5)
    one_seed = module_main("benchmarks.char_seeds", repo, "--seeds", "1")
    assert "std undefined (sample, n=1)" in one_seed.stdout
    assert json.loads(one_seed.stdout.splitlines()[-1])["std"] is None


def test_dynamic_eval_benchmark_chooses_on_val_without_the_test_split(repo):
    (repo / "data/test.npy").unlink()  # it must never read test
    options = ["--chars", "300", "--steps", "0.0003,0.01", "--decays", "0.001,0.01", "--segments", "32,8"]  # params.yaml's first
    result = module_main("benchmarks.dynamic_eval", repo, *options)
    summary = json.loads(result.stdout.splitlines()[-1])
    assert summary["search_chars"] == 300 and len(summary["search"]) == 4  # 2 steps, then 1 more decay, then 1 more segment
    best = min(summary["search"], key=lambda row: row["val_loss_search"])  # each coordinate keeps the best so far
    assert summary["best"] == {key: best[key] for key in ("method", "step", "decay", "segment_len")}
    stage = json.loads((repo / "metrics/dynamic.json").read_text())
    assert summary["whole_val"]["static"] == stage["static_val_loss"]  # the stage's static val, to the last digit
    assert summary["whole_val"]["params.yaml"] == stage["val_loss"]  # and its adapted val


# Runs each named stage as `python -m stages.NAME` does, in a process of its own that records every
# file it opens for reading. The heavy third-party imports are done once, in a parent that forks one
# child per stage, each importing the project's modules (stages.*) afresh: no read goes unseen.
READS_RECORDER = """
import os, runpy, sys, traceback
import matplotlib, numpy, pandas, requests, ruamel.yaml, scipy.stats, torch, tqdm  # no project file read
folder, names = sys.argv[1], sys.argv[2:]
def record_stage(reads, name):
    def record(event, args):
        if event == "open" and isinstance(args[0], str):
            mode, flags = args[1], args[2]
            writing = ("w" in mode or "a" in mode or "x" in mode or "+" in mode) if mode else flags & (os.O_WRONLY | os.O_RDWR)
            if not writing:
                reads.add(os.path.relpath(os.path.abspath(args[0])))
    sys.addaudithook(record)
    sys.argv = [sys.argv[0]]
    runpy.run_module(f"stages.{name}", run_name="__main__")
for name in names:
    child = os.fork()
    if child == 0:
        code, reads = 0, set()
        try:
            record_stage(reads, name)
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            with open(os.path.join(folder, name + ".reads"), "w") as output:
                output.write("\\n".join(sorted(reads)))
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    code = os.waitstatus_to_exitcode(os.waitpid(child, 0)[1])
    if code:
        sys.exit(f"stages.{name} exited with {code}")
"""


def test_dvc_yaml_lists_every_file_each_stage_reads(repo, tmp_path):
    # A file a stage reads but dvc.yaml does not list is invisible to `dvc status`: a change to it reruns nothing.
    stages = YAML(typ="safe").load((repo / "dvc.yaml").read_text())["stages"]
    env = dict(os.environ, PYTHONPATH=str(repo))
    run([sys.executable, "-c", READS_RECORDER, str(tmp_path), *stages], repo, env=env)
    for name, stage in stages.items():
        record = tmp_path / f"{name}.reads"
        reads = {path for path in record.read_text().splitlines() if not path.startswith("..")}  # inside the project
        data = {path for path in reads if path.split("/")[0] in ("data", "corpora", "metrics", "plots", "samples")}
        data -= {path for path in data if path.startswith("data/resume/")}  # a resume checkpoint: used only by the same run
        listed = [next(iter(dep)) if isinstance(dep, dict) else dep for dep in stage["deps"]]
        unlisted = {path for path in data if not any(path == dep or path.startswith(dep.rstrip("/") + "/") for dep in listed)}
        assert not unlisted, f"{name} reads {sorted(unlisted)}, which dvc.yaml does not list"
        assert "params.yaml" in reads, f"{name}: the recorder saw no reads"
