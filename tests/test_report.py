"""One source for every figure of the docs: the Results and times tables are what `stages.report`
prints for the committed metrics, and every other output is a transcript that docs/record.sh
re-records, spliced in between markers."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from stages import report

ROOT = Path(__file__).resolve().parents[1]
DOCS = ["README.md", "BENCHMARKS.md", *sorted(f"docs/{page.name}" for page in (ROOT / "docs").glob("*.md"))]
TABLES = ("results", "times")


def stale(kinds, root=ROOT):
    return [message for doc in DOCS for message in report.stale_blocks(doc, root, (ROOT / doc).read_text(encoding="utf-8"), kinds)]


def test_the_docs_tables_equal_what_stages_report_prints_for_the_committed_metrics():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "results" in {kind for kind, *_ in report.blocks(readme)}  # no passing for want of a table
    messages = stale(TABLES)
    assert not messages, "\n\n".join(messages)


def test_every_transcript_block_equals_its_file():
    messages = stale(("transcript",))
    assert not messages, "\n\n".join(messages)


def test_every_transcript_is_spliced_somewhere_and_recorded_by_the_script():
    spliced = {source for doc in DOCS for kind, source, *_ in report.blocks((ROOT / doc).read_text(encoding="utf-8")) if kind == "transcript"}
    files = {f"docs/transcripts/{file.name}" for file in (ROOT / "docs/transcripts").glob("*.txt")}
    assert spliced == files
    script = (ROOT / "docs/record.sh").read_text()
    for source in spliced:
        name = Path(source).stem
        assert f"begin {name}\n" in script or f'"$OUT/{name}.txt"' in script, f"docs/record.sh does not record {source}"
        assert (ROOT / source).read_text().startswith("# recorded by "), f"{source} was never recorded: run docs/record.sh"


# A made-up project: the keys of params.yaml the tables name, and metrics and timing logs of invented figures.
METRICS = {
    "ngram": {"test_loss": 1.4752, "test_bpc": 2.1283, "val_loss": 1.486, "val_bpc": 2.1438},
    "charrnn": {"test_loss": 1.34185, "test_bpc": 1.93588, "val_loss": 1.36142, "val_bpc": 1.96411, "steps": 5500,
                "cpu": "AMD EPYC (family 25 model 17, bfloat16: avx512_bf16)", "threads": 2, "device": "cpu"},
    "dynamic": {"test_loss": 1.2, "test_bpc": 1.73123, "val_loss": 1.21, "val_bpc": 1.74566, "static_test_loss": 1.34185,
                "cpu": "AMD EPYC (family 25 model 17, bfloat16: avx512_bf16)", "threads": 2, "device": "cpu"},
    "mix": {"test_loss_mix": 1.31916, "test_bpc_mix": 1.90315, "val_loss_mix": 1.33131, "rnn_weight": 0.7784,
            "test_loss_mix_dynamic": 1.19, "test_bpc_mix_dynamic": 1.71681, "val_loss_mix_dynamic": 1.2, "rnn_weight_dynamic": 0.9,
            "test_loss_mix_adaptive": 1.18, "test_bpc_mix_adaptive": 1.70238, "val_loss_mix_adaptive": 1.19, "rnn_weight_adaptive": 0.88,
            "cache_weight_adaptive": 0.03},
    "wave": {"mse_mean": 5.413e-08, "mse_median": 4.877e-08, "mse_worst": 1.6315e-07, "zero_predictor_mse_mean": 0.5491},
    "wavernn_train": {"steps": 3300, "cpu": "AMD EPYC (family 25 model 17, bfloat16: avx512_bf16)", "threads": 1, "device": "cpu"},
}
TIMINGS = {
    "plots/charrnn_timing.csv": "step,train_seconds,chars_per_s\n10,3.69,5550.2\n5500,1815.224,6205.3\n",
    "plots/wavernn_timing.csv": "step,train_seconds,waves_per_s\n25,0.558,2866.6\n3300,156.571,1348.9\n",
    "plots/dynamic_timing.csv": "part,chars,seconds\ngradient statistics (train),65536,9.5\nval,239109,101.25\ntest,239109,99.8\n",
}


PARAMS = """
cell: lstm
hidden_size: 512
num_layers: 2
ngram: {max_order: 7}
dynamic_eval: {method: rms, step: 0.0003, decay: 0.0, segment_len: 64}
wavernn: {cell: gru, hidden_size: 32, num_layers: 1}
"""


@pytest.fixture
def made_up(tmp_path):
    (tmp_path / "params.yaml").write_text(PARAMS)
    (tmp_path / "metrics").mkdir()
    (tmp_path / "plots").mkdir()
    for name, data in METRICS.items():
        (tmp_path / f"metrics/{name}.json").write_text(json.dumps(data))
    for path, text in TIMINGS.items():
        (tmp_path / path).write_text(text)
    return tmp_path


def test_the_tables_give_each_figure_as_its_file_holds_it(made_up):
    results, times = report.results(made_up), report.times(made_up)
    assert "| text | char-RNN, LSTM 2 x 512, static | 1.34185 | 1.93588 | 1.36142 | metrics/charrnn.json |" in results
    assert "(RNN weight 0.900) | 1.19 | 1.71681 | 1.2 | metrics/mix.json |" in results
    assert "| waves | predict zero | 0.549 |" in results
    assert "| train_charrnn | 5500 training steps | 1815.224 | 6205.3 chars/s | AMD EPYC (family 25 model 17, bfloat16: avx512_bf16), 2 threads, cpu |" in times
    assert "| dynamic_eval | test: 239109 chars | 99.8 |" in times
    assert "| train_wavernn | 3300 training steps | 156.571 | 1348.9 waves/s |" in times


def test_a_figure_changed_by_hand_in_a_copy_of_the_readme_is_caught(made_up):
    readme = report.update_text((ROOT / "README.md").read_text(encoding="utf-8"), made_up, TABLES)
    assert report.stale_blocks("README.md", made_up, readme, TABLES) == []
    assert report.update_text(readme, made_up, TABLES) == readme  # rewriting again changes nothing
    line = next(line for line in readme.splitlines() if line.endswith("| metrics/charrnn.json |"))
    by_hand = line.replace("| 1.34185 |", "| 1.3419 |")
    messages = report.stale_blocks("README.md", made_up, readme.replace(line, by_hand), TABLES)
    assert len(messages) == 1, messages
    number = readme.splitlines().index(line) + 1
    assert messages[0].startswith(f"README.md:{number}: the results block (python -m stages.report --md) differs")
    assert f"\n  the file has:   {by_hand}\n  its source has: {line}\n" in messages[0]
    assert messages[0].endswith("re-record with: python -m stages.report --update README.md")


def test_a_transcript_edited_by_hand_is_caught_and_update_restores_it(tmp_path):
    (tmp_path / "docs/transcripts").mkdir(parents=True)
    (tmp_path / "docs/transcripts/demo.txt").write_text("$ dvc status\nData and pipelines are up to date.\n")
    page = "# A page\n\ntext before\n<!-- transcript: docs/transcripts/demo.txt -->\n<!-- /transcript -->\ntext after\n"
    spliced = report.update_text(page, tmp_path)
    assert spliced == page.replace("-->\n<!-- /", "-->\n```\n$ dvc status\nData and pipelines are up to date.\n```\n<!-- /")
    edited = spliced.replace("up to date", "up to date!")
    [message] = report.stale_blocks("page.md", tmp_path, edited)
    assert message.startswith("page.md:7: the transcript block (docs/transcripts/demo.txt) differs")
    assert report.update_text(edited, tmp_path) == spliced


def test_the_command_rewrites_the_blocks_and_check_fails_naming_the_line(made_up):
    page = made_up / "page.md"
    page.write_text("# Results\n<!-- results: python -m stages.report --md -->\n<!-- /results -->\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "stages.report"]
    updated = subprocess.run([*command, "--update", "page.md"], cwd=made_up, env=env, capture_output=True, text=True)
    assert updated.returncode == 0, updated.stderr
    assert "page.md: 1 generated blocks, rewritten" in updated.stdout
    assert subprocess.run([*command, "--check", "page.md"], cwd=made_up, env=env, capture_output=True).returncode == 0
    page.write_text(page.read_text().replace("| 1.31916 |", "| 1.3192 |"))
    checked = subprocess.run([*command, "--check", "page.md"], cwd=made_up, env=env, capture_output=True, text=True)
    assert checked.returncode == 1
    assert checked.stdout.startswith("page.md:9: the results block")
    assert "| 1.3192 |" in checked.stdout


def test_a_marker_that_names_another_command_is_refused(made_up):
    page = "<!-- results: dvc metrics show --md -->\n<!-- /results -->\n"
    with pytest.raises(report.cli.UserError, match="must name its command exactly"):
        report.update_text(page, made_up)
