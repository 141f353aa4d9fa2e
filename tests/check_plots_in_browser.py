"""Documented check: render `dvc plots diff` in headless Chromium and make sure the curves are drawn.

    apt-get install -y chromium                 # Debian's package: /usr/bin/chromium
    python tests/check_plots_in_browser.py main wider --screenshot plots-diff.png

DVC's HTML page loads Vega from cdn.jsdelivr.net. This machine is offline, so the check fetches
the same versions from the npm registry (`npm pack`), points the page's script tags at those
local copies, opens it in headless Chromium, takes a full-page screenshot and counts the pixels
in the colour DVC gives each revision's curves (the matplotlib figures on the page use none of
them): an empty or broken page has none. Not part of `pytest`
because it needs Chromium and the npm registry; run it after changing `plots:` in dvc.yaml.
"""

import argparse
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

CDN = re.compile(r"https://cdn\.jsdelivr\.net/npm/(vega(?:-lite|-embed)?)@([0-9.]+)")
REVISION_COLOURS = [(0x94, 0x5D, 0xD6), (0x13, 0xAD, 0xC7)]  # dvc_render's colours of the first two revisions
MIN_PIXELS = 500


def local_scripts(page, workdir):
    """The page with every Vega script from the CDN replaced by a local copy from the npm registry."""

    def replace(match):
        name, version = match.groups()
        subprocess.run(["npm", "pack", "--silent", f"{name}@{version}"], cwd=workdir, check=True, capture_output=True)
        with tarfile.open(workdir / f"{name}-{version}.tgz") as archive:
            archive.extract(f"package/build/{name}.min.js", workdir / name, filter="data")
        return (workdir / name / "package/build" / f"{name}.min.js").as_uri()

    return CDN.sub(replace, page)


def screenshot(page_path, png_path):
    """Full-page screenshot of a local HTML file in headless Chromium."""
    subprocess.run(
        [
            "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={page_path.parent / 'profile'}", "--allow-file-access-from-files",
            "--window-size=1400,5000", "--virtual-time-budget=15000", "--hide-scrollbars",
            f"--screenshot={png_path}", page_path.as_uri(),
        ],
        check=True,
        capture_output=True,
    )


def coloured_pixels(png_path, colours):
    """How many pixels are within a small distance of each colour."""
    pixels = np.asarray(Image.open(png_path).convert("RGB")).astype(int)
    return [int((np.abs(pixels - rgb).sum(axis=-1) < 40).sum()) for rgb in colours]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revisions", nargs="*", help="git revisions for `dvc plots diff` (default: the workspace)")
    parser.add_argument("--screenshot", type=Path, default=Path("plots-diff.png"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        out = workdir / "plots"
        subprocess.run(["dvc", "plots", "diff", *args.revisions, "-o", str(out)], check=True, capture_output=True)
        page = out / "index.html"
        page.write_text(local_scripts(page.read_text(), workdir))
        screenshot(page, args.screenshot.resolve())
    revisions = args.revisions or ["workspace", "HEAD"]
    counts = coloured_pixels(args.screenshot, REVISION_COLOURS[: len(revisions)])
    print(f"{args.screenshot}: pixels in each revision's colour {dict(zip(revisions, counts))}")
    if min(counts) < MIN_PIXELS:
        sys.exit(f"error: fewer than {MIN_PIXELS} pixels of a revision's colour; its curves did not render")


if __name__ == "__main__":
    main()
