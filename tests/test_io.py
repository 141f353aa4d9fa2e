import os

import torch

from stages.lib import io, training


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
