import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import torch

from stages.lib import io, training

ROOT = Path(__file__).resolve().parents[1]


def test_outputs_get_the_permissions_of_a_plainly_written_file(tmp_path):
    previous = os.umask(0o022)
    try:
        io.write_json(tmp_path / "metrics.json", {"val_loss": 1.0})
        training.save(tmp_path / "model.pt", {"w": torch.ones(2)})
    finally:
        os.umask(previous)
    for name in ("metrics.json", "model.pt"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "model.pt"]  # no temporary file left


def test_the_same_checkpoint_has_the_same_bytes_whatever_its_temporary_name(tmp_path):
    payload = {"architecture": {"hidden_size": 3}, "model": {"w": torch.arange(6.0)}}
    training.save(tmp_path / "a.pt", payload)
    training.save(tmp_path / "b.pt", payload)
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()
    assert torch.load(tmp_path / "a.pt", weights_only=True)["model"]["w"].tolist() == list(range(6))


def test_a_writer_killed_mid_write_leaves_the_old_file_and_the_next_write_sweeps_its_temporary(tmp_path):
    target = tmp_path / "metrics.json"
    io.write_json(target, {"val_loss": 1.0})
    writer = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from stages.lib import io
            with io.atomic_path({str(target)!r}) as tmp:
                tmp.write_text('{{"val_lo')
                print("half written", flush=True)
                time.sleep(60)
        """)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )
    assert writer.stdout.readline().strip() == "half written"
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "metrics.json"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".metrics.json.")  # what kill -9 leaves
    assert io.read_json(target) == {"val_loss": 1.0}  # never a partial file in place
    (tmp_path / ".other.json.abc.tmp").write_text("another target's")
    io.write_json(target, {"val_loss": 2.0})
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.json.abc.tmp", "metrics.json"]
    assert io.read_json(target) == {"val_loss": 2.0}
