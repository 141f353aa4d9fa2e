"""DVC's run-cache and dependencies, end to end on the tiny project: a failed stage after a typo
and an edited local corpus (an identical experiment: tests/e2e/test_compare.py)."""

from conftest import commit, run, snapshot, stages_restored, stages_run, update_params

# Every stage but `generate`, whose samples are plain git-tracked outputs (see README, "Run-cache").
RUN_CACHED = {"download", "vocab", "ngram", "train_charrnn", "dynamic_eval", "mix", "train_wavernn", "evaluate_wave", "plot"}


def test_every_stage_but_generate_saves_a_run_cache_entry(repo):
    entries = [p for p in (repo / ".dvc/cache/runs").rglob("*") if p.is_file()]
    assert len(entries) == len(RUN_CACHED)


def test_a_typo_then_its_fix_restores_the_earlier_outputs(repo):
    outputs = snapshot(repo)
    update_params(repo, {"charrnn.lr": -0.1})
    failed = run(["dvc", "repro"], repo, check=False)
    assert failed.returncode != 0
    assert "'charrnn.lr' is -0.1; allowed: float > 0.0" in failed.stderr
    assert "Traceback" not in failed.stdout + failed.stderr
    assert not (repo / "metrics/charrnn.json").exists()  # DVC removed the stage's outputs before running it

    update_params(repo, {"charrnn.lr": 0.003})
    fixed = run(["dvc", "repro"], repo)
    assert "train_charrnn" in stages_restored(fixed.stdout)
    assert "train_charrnn" not in stages_run(fixed.stdout)
    assert snapshot(repo) == outputs
    assert "up to date" in run(["dvc", "status"], repo).stdout


def test_editing_the_local_corpus_reruns_download(repo):
    assert "up to date" in run(["dvc", "status"], repo).stdout
    corpus = repo / "corpora/tiny.txt"
    corpus.write_text(corpus.read_text() + "ALL:\nOne line more.\n")
    status = run(["dvc", "status", "download"], repo).stdout
    assert "download:" in status and "modified:           corpora" in status
    rerun = run(["dvc", "repro", "download"], repo)
    assert stages_run(rerun.stdout) == {"download"}
    assert (repo / "data/raw/corpus.txt").read_text().endswith("One line more.\n")
    commit(repo, "a longer corpus")


def test_a_dynamic_eval_knob_reruns_only_what_reads_it_and_a_bad_one_is_named(repo):
    outputs = snapshot(repo)
    update_params(repo, {"dynamic_eval.step": 0.01})
    changed = run(["dvc", "repro"], repo)
    assert stages_run(changed.stdout) == {"dynamic_eval", "mix", "plot"}
    update_params(repo, {"dynamic_eval.step": -1})
    failed = run(["dvc", "repro"], repo, check=False)
    assert failed.returncode != 0 and "Traceback" not in failed.stdout + failed.stderr
    assert "'dynamic_eval.step' is -1.0; allowed: float >= 0.0 <= 10.0" in failed.stderr
    update_params(repo, {"dynamic_eval.step": 0.0003})
    restored = run(["dvc", "repro"], repo)
    assert stages_restored(restored.stdout) == {"dynamic_eval", "mix", "plot"} and not stages_run(restored.stdout)
    assert snapshot(repo) == outputs
