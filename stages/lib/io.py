"""Atomic writes: every output goes to a temporary file beside its target, then is renamed.

A process killed between the two leaves its temporary file behind; the next write of the same
target removes it, so a rerun of the stage (DVC reruns a stage that did not finish) leaves none.
"""

import contextlib
import glob
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from .cli import UserError


def default_file_mode():
    """The mode a new file gets from open(): 0o666 less the process umask (0o644 under umask 022)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def temporary_prefix_suffix(target):
    """The prefix and suffix of `target`'s temporary files: `.NAME.<random>.tmp` beside it."""
    return f".{target.name}.", ".tmp"


def remove_stale_temporaries(target):
    """Delete temporary files of `target` that a killed writer left (one writer per target: DVC's lock)."""
    prefix, suffix = temporary_prefix_suffix(target)
    for stale in target.parent.glob(f"{glob.escape(prefix)}*{suffix}"):
        stale.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(target):
    """Yield a temporary path beside `target`; rename it onto `target` only if the block succeeds.

    The file ends with the permissions of a plainly written one (mkstemp alone would leave 0600).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    prefix, suffix = temporary_prefix_suffix(target)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path, data):
    """Write bytes atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path, text):
    """Write a UTF-8 text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path, data):
    """Write `data` as indented JSON atomically."""
    write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def read_output(path, reader, stage):
    """`reader(path)` for a file that `stage` writes; if it is missing, a UserError naming both."""
    try:
        return reader(path)
    except FileNotFoundError:
        raise UserError(f"{path}: file not found; run the '{stage}' stage first") from None


def read_json(path):
    """Read a JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_npy(path, array):
    """Save a numpy array atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array)


def write_csv(path, frame):
    """Write a pandas DataFrame as CSV atomically."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
