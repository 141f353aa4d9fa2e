"""Share the run-cache with another machine: `dvc push --run-cache` plus the outputs its entries name.

    python -m stages.lib.run_cache push [REMOTE]     # on the machine that ran the stages

DVC 3's `dvc push --run-cache` sends the run-cache entries but not the git-tracked (`cache:
false`) metrics, plots and logs they name (dvc/repo/push.py pushes `stage_cache.push()` only;
DVC 2 pushed `stage_cache.get_used_objs()` as well). Without those files another machine's
`dvc repro --pull` cannot restore a stage and trains it again. This sends the entries with
DVC's own push, then every output object they name with DVC's own data cloud. The other
machine needs nothing but DVC: `dvc pull --run-cache`, then `dvc repro --pull` (or
`dvc exp run --pull -S ...`).
"""

import argparse
import logging
import os
import subprocess
import sys

log = logging.getLogger(__name__)


def run_cache_entries(repo):
    """(key, value) of every run-cache entry in the local cache."""
    runs = os.path.join(repo.cache.legacy.path, "runs")
    entries = []
    for prefix in sorted(os.listdir(runs)) if os.path.isdir(runs) else []:
        for key in sorted(os.listdir(os.path.join(runs, prefix))):
            entries.extend((key, value) for value in sorted(os.listdir(os.path.join(runs, prefix, key))))
    return entries


def push(remote=None):
    """`dvc push --run-cache`, then the objects of every output the run-cache entries name."""
    from dvc.repo import Repo

    subprocess.run(["dvc", "push", "--run-cache", *(["-r", remote] if remote else [])], check=True)
    with Repo() as repo:
        entries = run_cache_entries(repo)
        pushed = 0
        for objs in repo.stage_cache.get_used_objs(entries).values():
            result = repo.cloud.push(objs, remote=remote)
            pushed += len(result.transferred)
            if result.failed:
                raise SystemExit(f"error: {len(result.failed)} output files of the run-cache could not be pushed")
    log.info("%d run-cache entries; %d output files pushed", len(entries), pushed)


def main():
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["push"])
    parser.add_argument("remote", nargs="?", help="a DVC remote (default: the default remote)")
    args = parser.parse_args()
    try:
        push(args.remote)
    except subprocess.CalledProcessError as error:
        sys.exit(error.returncode)


if __name__ == "__main__":
    main()
