"""The shared training loop through the real stage scripts: determinism, resume after SIGKILL, NaN guard."""

import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import python_stage, stage_main, update_params
from stages.lib import params, training
from stages.lib.models import WAVE_CHECKPOINT, WaveRNN, wave_architecture
from stages.lib.cli import UserError

STAGES = {
    "train_charrnn": ("charrnn", "metrics/charrnn.json", "plots/charrnn_train.csv"),
    "train_wavernn": ("wavernn", "metrics/wavernn_train.json", "plots/wavernn_train.csv"),
}


def results(repo, stage):
    """The stage's metrics (no timings among them) and its per-step log."""
    _, metrics, log = STAGES[stage]
    return json.loads((repo / metrics).read_text()), (repo / log).read_text()


def prepare(repo, stage):
    stage_main("download", repo)
    stage_main("vocab", repo)
    if stage == "train_wavernn":
        update_params(repo, {"wavernn.steps": 60})
    else:
        update_params(repo, {"charrnn.steps": 60})


def test_learning_rate_schedule():
    config = {"lr": 1.0, "warmup_steps": 10, "steps": 110, "lr_schedule": "cosine", "min_lr_fraction": 0.1}
    assert training.learning_rate(0, config) == pytest.approx(0.1)
    assert training.learning_rate(9, config) == pytest.approx(1.0)
    assert training.learning_rate(60, config) == pytest.approx(0.55)
    last = training.learning_rate(config["steps"] - 1, config)  # the last step the loop runs (0-based)
    assert last == pytest.approx(0.1 + 0.45 * (1 + math.cos(math.pi * 99 / 100)))
    assert 0.1 < last < 0.1003
    assert training.learning_rate(50, {**config, "lr_schedule": "constant"}) == 1.0


def test_threads_zero_means_one_per_process_in_a_dvc_queue(tmp_path, monkeypatch):
    default = training.torch.get_num_threads()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    assert training.cpu_threads(0) == default  # outside DVC
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    assert training.cpu_threads(0) == default  # dvc repro / dvc exp run in the workspace
    monkeypatch.setenv("DVC_ROOT", str(tmp_path / "elsewhere"))
    assert training.cpu_threads(0) == 1  # a queue worker's copy of the repository
    assert training.cpu_threads(3) == 3  # an explicit count always wins


@pytest.mark.parametrize("stage", STAGES)
def test_same_params_give_identical_results(project, stage):
    prepare(project, stage)
    stage_main(stage, project)
    first = results(project, stage)
    stage_main(stage, project)  # the same process again
    assert results(project, stage) == first
    python_stage(stage, project)  # another process: another hash seed, fresh torch state
    assert results(project, stage) == first


def kill_after_first_checkpoint(cmd, cwd, resume_file, timeout=120):
    """Start `cmd`, SIGKILL its process group once `resume_file` appears; return its exit code."""
    env = dict(os.environ, PYTHONPATH=str(cwd))
    process = subprocess.Popen(cmd, cwd=cwd, env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while not resume_file.exists():
        assert process.poll() is None, "training finished before its first checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGKILL)
    return process.wait()


@pytest.mark.parametrize("stage", ["train_wavernn"])  # train_charrnn: through dvc repro in tests/e2e/test_pipeline.py
def test_resume_after_sigkill_matches_an_unbroken_run(project, stage):
    section = STAGES[stage][0]
    prepare(project, stage)
    update_params(project, {f"{section}.steps": 400, f"{section}.checkpoint_every": 40, f"{section}.eval_every": 100})
    stage_main(stage, project)  # unbroken, in this process; the kill and the resume in processes of their own
    unbroken = results(project, stage)
    resume_file = project / f"data/resume/{section}.pt"
    assert not resume_file.exists(), "a finished run removes its resume checkpoint"

    code = kill_after_first_checkpoint([sys.executable, "-m", f"stages.{stage}"], project, resume_file)
    assert code == -signal.SIGKILL
    rerun = python_stage(stage, project)
    assert "resuming from data/resume" in rerun.stderr
    assert results(project, stage) == unbroken
    assert not resume_file.exists()


def test_a_scan_cell_resumes_exactly_and_feeds_generate_and_mix(project):
    prepare(project, "train_charrnn")
    update_params(project, {"cell": "qrnn", "charrnn.precision": "bfloat16", "charrnn.steps": 400, "charrnn.checkpoint_every": 40})
    stage_main("train_charrnn", project)
    unbroken = results(project, "train_charrnn")
    resume_file = project / "data/resume/charrnn.pt"
    assert kill_after_first_checkpoint([sys.executable, "-m", "stages.train_charrnn"], project, resume_file) == -signal.SIGKILL
    assert "resuming from data/resume" in python_stage("train_charrnn", project).stderr
    assert results(project, "train_charrnn") == unbroken
    for stage in ("ngram", "dynamic_eval", "generate", "mix"):
        stage_main(stage, project)
    assert len((project / "samples/charrnn.txt").read_text()) > 0
    assert json.loads((project / "metrics/mix.json").read_text())["test_loss_mix"] > 0


def interrupted_char_training(project):
    """Kill a 400-step char-RNN training after its first checkpoint; return the resume file."""
    prepare(project, "train_charrnn")
    update_params(project, {"charrnn.steps": 400, "charrnn.checkpoint_every": 40})
    resume_file = project / "data/resume/charrnn.pt"
    kill_after_first_checkpoint([sys.executable, "-m", "stages.train_charrnn"], project, resume_file)
    return resume_file


def test_stale_checkpoint_of_other_params_is_not_resumed(project):
    resume_file = interrupted_char_training(project)
    update_params(project, {"charrnn.steps": 60, "charrnn.lr": 0.002})
    rerun = python_stage("train_charrnn", project)  # a process like the killed one: only the params differ
    assert "resuming" not in rerun.stderr
    fresh = results(project, "train_charrnn")
    assert not resume_file.exists()
    stage_main("train_charrnn", project)
    assert results(project, "train_charrnn") == fresh


def test_non_finite_loss_stops_with_step_and_hint(project):
    prepare(project, "train_charrnn")
    update_params(project, {"charrnn.lr": 1.0e6, "charrnn.warmup_steps": 0, "charrnn.clip": 1.0e9,
                            "charrnn.weight_decay": 0.0, "cell": "rnn_relu"})
    result = stage_main("train_charrnn", project, check=False)
    assert result.returncode == 2
    assert "training loss became" in result.stderr and "at step" in result.stderr
    assert "lower the learning rate ('charrnn.lr')" in result.stderr
    assert not (project / "metrics/charrnn.json").exists()
    assert not (project / "data/charrnn.pt").exists()


def test_a_wave_model_whose_free_run_diverges_stops_with_one_line(project):
    # Found by test_any_params: a ReLU RNN that trained to a finite loss on rollouts of up to
    # 28 steps, whose 900-step free run on the monitoring waves overflowed to NaN.
    update_params(project, {
        "wavernn.seed": 347, "wavernn.cell": "rnn_relu", "wavernn.hidden_size": 15, "wavernn.normalize_amplitude": False,
        "wavernn.steps": 14, "wavernn.batch_size": 4, "wavernn.lr": 1e-5, "wavernn.warmup_steps": 7,
        "wavernn.teacher_steps": 17, "wavernn.rollout_start": 9, "wavernn.rollout_end": 28,
        "wavernn.rollout_growth_fraction": 6.1e-05, "wavernn.rollout_final_fraction": 0.0,
        "wavernn.eval_every": 10, "wavernn.log_every": 29,
    })
    result = stage_main("train_wavernn", project, check=False)
    assert result.returncode == 2
    assert "monitoring waves became NaN or infinite; lower the learning rate ('wavernn.lr')" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project / "metrics/wavernn_train.json").exists()
    assert not (project / "data/wavernn.pt").exists()


def test_a_corrupt_resume_file_is_ignored_with_a_warning(project):
    prepare(project, "train_wavernn")
    resume_file = project / "data/resume/wavernn.pt"
    resume_file.parent.mkdir(parents=True)
    resume_file.write_bytes(b"PK\x03\x04 not a checkpoint")
    result = stage_main("train_wavernn", project)
    assert "ignoring data/resume/wavernn.pt: not a readable checkpoint" in result.stderr
    assert "Traceback" not in result.stderr
    assert not resume_file.exists()


def test_a_checkpoint_of_other_code_is_not_resumed(project):
    assert interrupted_char_training(project).exists()
    trainer = project / "stages/lib/training.py"
    trainer.write_text(trainer.read_text() + "\n# an edit after the kill\n")
    rerun = python_stage("train_charrnn", project)
    assert "resuming" not in rerun.stderr
    assert "other parameters, data or code" in rerun.stderr


class FixedLoss:
    """A task whose loss is a fixed quadratic of the model's weights (for optimizer tests)."""

    def loss(self, model, step):
        return sum(((p - 1) ** 2).sum() for p in model.parameters())


def train_linear(weight_decay, steps=20):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    config = {"steps": steps, "lr": 0.1, "lr_schedule": "constant", "warmup_steps": 0, "min_lr_fraction": 0.0,
              "adam_beta2": 0.999, "weight_decay": weight_decay, "clip": 1e9, "log_every": 5, "eval_every": 0,
              "checkpoint_every": 0}
    training.fit(model, FixedLoss(), config, section="charrnn", resume_path=os.devnull, run_fingerprint="", units_per_step=1)
    return [p.detach().clone() for p in model.parameters()]


def test_weight_decay_is_decoupled_and_zero_decay_is_plain_adam():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    adam = torch.optim.Adam(model.parameters(), lr=0.1, fused=True)
    for _ in range(20):
        adam.zero_grad()
        FixedLoss().loss(model, 0).backward()
        adam.step()
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), train_linear(0.0)))
    # Decoupled (AdamW): w <- w (1 - lr wd) after Adam's normalised step, which holds w near the
    # loss's minimum at 1. L2 added to the gradient (Adam's own weight_decay) would settle where
    # 2 (w - 1) + wd w = 0, at 0.8.
    decayed = train_linear(0.5, steps=400)
    for weight in decayed:
        assert torch.all(weight < 0.99) and torch.all(weight > 0.9)


def test_the_fused_optimizer_steps_as_torchs_unfused_adamw():
    config = {"lr": 0.1, "adam_beta2": 0.99, "weight_decay": 0.5}
    fused, plain = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    plain.load_state_dict(fused.state_dict())
    optimizers = (training.make_optimizer(fused, config),
                  torch.optim.AdamW(plain.parameters(), lr=0.1, betas=(0.9, 0.99), weight_decay=0.5, foreach=False))
    for _ in range(30):
        for model, optimizer in zip((fused, plain), optimizers):
            optimizer.zero_grad()
            FixedLoss().loss(model, 0).backward()
            optimizer.step()
    assert optimizers[0].defaults["fused"]
    for a, b in zip(fused.parameters(), plain.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
        assert not torch.equal(a, torch.ones_like(a))  # trained, not at the minimum by construction


def test_non_finite_weights_are_refused_before_a_checkpoint():
    model = training.torch.nn.Linear(2, 1)
    training.check_finite(model, 10, "wavernn")  # finite: no error
    with training.torch.no_grad():
        model.weight[0, 0] = float("nan")
    with pytest.raises(UserError, match="weights became NaN or infinite by step 10; lower the learning rate \\('wavernn.lr'\\)"):
        training.check_finite(model, 10, "wavernn")


def test_a_wave_model_that_diverges_on_the_protocol_stops_evaluate_wave_with_a_hint(project):
    architecture = wave_architecture(params.load("train_wavernn", project / "params.yaml")["wavernn"])
    model = WaveRNN(**architecture)
    with torch.no_grad():
        for weight in model.parameters():
            weight.fill_(1e37)  # finite weights whose free-running outputs overflow float32
    training.save(project / WAVE_CHECKPOINT, {"architecture": architecture, "model": model.state_dict()})
    result = stage_main("evaluate_wave", project, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "became NaN or infinite on" in result.stderr and "('wavernn.lr')" in result.stderr
    assert not (project / "metrics/wave.json").exists()


@pytest.mark.parametrize("family, model, flags, expected", [
    (25, 17, "fpu avx2 avx512f avx512_bf16", "AMD EPYC (family 25 model 17, bfloat16: avx512_bf16)"),  # Zen 4
    (26, 2, "fpu avx2 avx512f avx512_bf16", "AMD EPYC (family 26 model 2, bfloat16: avx512_bf16)"),  # Zen 5: the same name
    (6, 143, "fpu avx512_bf16 amx_bf16 amx_tile", "AMD EPYC (family 6 model 143, bfloat16: amx)"),
    (23, 49, "fpu avx2", "AMD EPYC (family 23 model 49, bfloat16: none)"),
])
def test_the_cpu_kind_tells_apart_what_one_model_name_covers(tmp_path, family, model, flags, expected):
    cpuinfo = tmp_path / "cpuinfo"
    first = f"processor\t: 0\ncpu family\t: {family}\nmodel\t\t: {model}\nmodel name\t: AMD EPYC\nflags\t\t: {flags}\n"
    cpuinfo.write_text(first + "\n" + first.replace("processor\t: 0", "processor\t: 1").replace("AMD EPYC", "other"))
    assert training.cpu_kind(cpuinfo) == expected
    assert training.cpu_kind(tmp_path / "missing")  # no /proc/cpuinfo (macOS): the platform's name
