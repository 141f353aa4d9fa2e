"""DVC's run-cache and dependencies, end to end on the tiny project: an identical experiment, a
failed stage after a typo, and an edited local corpus."""

from conftest import commit, run, stages_restored, stages_run, update_params

# Every stage but `generate`, whose samples are plain git-tracked outputs (see README, "Run-cache").
RUN_CACHED = {"download", "vocab", "ngram", "train_charrnn", "mix", "train_wavernn", "evaluate_wave", "plot"}
GIT_TRACKED = ["metrics", "plots", "samples"]


def snapshot(repo):
    """The bytes of every pipeline output: git-tracked files and DVC-cached data."""
    files = [p for folder in (*GIT_TRACKED, "data") for p in sorted((repo / folder).rglob("*")) if p.is_file()]
    return {str(p.relative_to(repo)): p.read_bytes() for p in files if ".gitignore" not in p.name}


def reset(repo):
    """Back to the committed workspace, as a user would: git and DVC both."""
    run(["git", "reset", "-q", "--hard"], repo)
    run(["dvc", "checkout", "-f"], repo)


def test_every_stage_but_generate_saves_a_run_cache_entry(repo):
    entries = [p for p in (repo / ".dvc/cache/runs").rglob("*") if p.is_file()]
    assert len(entries) == len(RUN_CACHED)


def test_an_identical_experiment_is_restored_from_the_run_cache(repo):
    change = ["-S", "hidden_size=12", "-S", "wavernn.hidden_size=6"]
    first = run(["dvc", "exp", "run", *change], repo)
    assert stages_run(first.stdout) == {"train_charrnn", "generate", "mix", "train_wavernn", "evaluate_wave", "plot"}
    outputs = snapshot(repo)
    reset(repo)
    assert snapshot(repo) != outputs

    again = run(["dvc", "exp", "run", *change], repo)
    assert stages_restored(again.stdout) == {"train_charrnn", "mix", "train_wavernn", "evaluate_wave", "plot"}
    assert stages_run(again.stdout) == {"generate"}  # no training: seeded sampling, seconds
    assert snapshot(repo) == outputs


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
