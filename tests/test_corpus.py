import hashlib
import tempfile
from pathlib import Path

import pytest
import requests

from conftest import TINY_TEXT, Route, stage_main, update_params
from stages.lib import corpus
from stages.lib.cli import UserError

PLAY = """# Macbeth

## ACT I

### SCENE II. A camp near Forres.

_Alarum within. Enter DUNCAN, MALCOLM, with Attendants,
meeting a bleeding Sergeant_

**DUNCAN**  
What bloody man is that? He can report,  
The newest state.

_Exit Sergeant, attended_

Who comes here?

**MISTRESS QUICKLY**  
[Aside to SIMPLE]_  
I am glad he is so quiet \\[Within]_ indeed.

*Sound a horn.*

**ROSENCRANTZ: & GUILDENSTERN:**  
My _honoured_ lord!
"""

EXPECTED = """DUNCAN:
What bloody man is that? He can report,
The newest state.
Who comes here?

MISTRESS QUICKLY:
I am glad he is so quiet indeed.

ROSENCRANTZ & GUILDENSTERN:
My honoured lord!
"""


def test_play_converts_to_classic_plain_form():
    assert corpus.play_to_text(PLAY) == EXPECTED


def test_default_corpus_is_all_of_shakespeare():
    text = corpus.shakespeare_text()
    assert len(text) > 4_000_000
    assert 60 <= len(set(text)) <= 90
    assert not set("_*#[]\\") & set(text)
    assert "HAMLET:\n" in text and "To be, or not to be" in text


def test_gutenberg_header_and_footer_are_stripped():
    text = (
        "The Project Gutenberg eBook of X\nlicence blah\n"
        "*** START OF THE PROJECT GUTENBERG EBOOK THE ADVENTURES ***\n\nBody line.\n\n"
        "*** END OF THE PROJECT GUTENBERG EBOOK THE ADVENTURES ***\nmore licence\n"
    )
    assert corpus.strip_gutenberg(text) == "Body line.\n"
    assert corpus.strip_gutenberg("plain\ntext\n") == "plain\ntext\n"


@pytest.mark.parametrize(
    "data, message",
    [(b"", "empty"), (b"  \n\n", "empty"), (b"ab\x00cd", "binary"), (b"\xff\xfe\xfa abc", "not UTF-8")],
)
def test_bad_bytes_are_refused(data, message):
    with pytest.raises(UserError, match=message):
        corpus.decode_text(data, "source.txt")


BODY = "ALL:\nSpeak, speak.\n\n".encode() * 10


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(corpus, "DOWNLOAD_RETRIES", 2)
    monkeypatch.setattr(corpus, "BACKOFF_S", 0.01)


def fetch(server, path, sha256=""):
    """The download path the stage uses."""
    with tempfile.TemporaryDirectory() as folder:
        data = corpus.download(server.url(path), Path(folder) / "body")
    corpus.verify_sha256(data, sha256, server.url(path))
    return corpus.decode_text(data, path)


def test_download_with_checksum(http_server):
    http_server.routes["/ok.txt"] = Route((200, BODY, False))
    assert fetch(http_server, "/ok.txt", hashlib.sha256(BODY).hexdigest()) == BODY.decode()


def test_404_is_not_retried(http_server):
    route = http_server.routes["/gone.txt"] = Route((404, b"missing", False))
    with pytest.raises(UserError, match="could not download .*gone.txt.*404"):
        fetch(http_server, "/gone.txt")
    assert route.hits == 1


def test_500_then_success_is_retried(http_server):
    route = http_server.routes["/flaky.txt"] = Route((500, b"oops", False), (200, BODY, False))
    assert fetch(http_server, "/flaky.txt") == BODY.decode()
    assert route.hits == 2


def test_persistent_500_gives_up(http_server):
    route = http_server.routes["/down.txt"] = Route((503, b"busy", False))
    with pytest.raises(UserError, match="503"):
        fetch(http_server, "/down.txt")
    assert route.hits == 3


def test_checksum_mismatch(http_server):
    http_server.routes["/ok.txt"] = Route((200, BODY, False))
    with pytest.raises(UserError, match="corpus.sha256: checksum mismatch"):
        fetch(http_server, "/ok.txt", "0" * 64)


def test_truncated_body_fails_after_retries(http_server):
    route = http_server.routes["/cut.txt"] = Route((200, BODY, True))
    with pytest.raises(UserError, match="could not download"):
        fetch(http_server, "/cut.txt")
    assert route.hits == 3


@pytest.mark.parametrize("body, message", [(b"\x89PNG\r\n\x1a\n\x00\x00", "binary"), (b"", "empty")])
def test_binary_or_empty_body(http_server, body, message):
    http_server.routes["/bad"] = Route((200, body, False))
    with pytest.raises(UserError, match=message):
        fetch(http_server, "/bad")


def leftovers(repo):
    """Files under data/raw other than the corpus, e.g. temporary files."""
    raw = Path(repo) / "data" / "raw"
    return sorted(p.name for p in raw.iterdir() if p.name != "corpus.txt") if raw.exists() else []


def test_download_stage_from_url(project, http_server):
    http_server.routes["/book.txt"] = Route((200, b"*** START OF THE PROJECT GUTENBERG EBOOK X ***\n" + BODY, False))
    update_params(project, {"corpus.path": "", "corpus.url": http_server.url("/book.txt"),
                            "corpus.sha256": ""})
    stage_main("download", project)
    assert (project / "data/raw/corpus.txt").read_bytes() == BODY.rstrip(b"\n") + b"\n"
    assert leftovers(project) == []


@pytest.mark.parametrize("route", [Route((404, b"", False)), Route((200, b"\x00\x01", False))])
def test_failed_download_keeps_previous_corpus(project, http_server, monkeypatch, route):
    stage_main("download", project)
    before = (project / "data/raw/corpus.txt").read_bytes()
    http_server.routes["/book.txt"] = route
    update_params(project, {"corpus.path": "", "corpus.url": http_server.url("/book.txt")})
    result = stage_main("download", project, check=False)
    assert result.returncode != 0
    assert http_server.url("/book.txt") in result.stderr
    assert (project / "data/raw/corpus.txt").read_bytes() == before
    assert leftovers(project) == []


def test_unreachable_url_names_it_and_keeps_previous_corpus(project, monkeypatch):
    stage_main("download", project)
    before = (project / "data/raw/corpus.txt").read_bytes()
    url = "http://127.0.0.1:9/corpus.txt"  # the discard port: nothing listens there
    update_params(project, {"corpus.path": "", "corpus.url": url})
    monkeypatch.chdir(project)
    from stages import download

    with pytest.raises(UserError, match=f"could not download {url}"):
        download.main()
    assert (project / "data/raw/corpus.txt").read_bytes() == before
    assert leftovers(project) == []


def test_missing_local_corpus_is_named(project):
    update_params(project, {"corpus.path": "corpora/nowhere.txt"})
    result = stage_main("download", project, check=False)
    assert result.returncode == 2
    assert "corpus.path: file not found: corpora/nowhere.txt" in result.stderr
    assert not (project / "data/raw/corpus.txt").exists()


def test_local_corpus_outside_corpora_is_refused(project):
    (project / "elsewhere.txt").write_text(TINY_TEXT)
    update_params(project, {"corpus.path": "elsewhere.txt"})
    result = stage_main("download", project, check=False)
    assert result.returncode == 2
    assert "corpus.path: elsewhere.txt is outside corpora/" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project / "data/raw/corpus.txt").exists()


def test_legacy_gutenberg_markers_are_stripped():
    old = (
        "Project Gutenberg's The Adventures of Sherlock Holmes\nlicence\n"
        "*** START OF THIS PROJECT GUTENBERG E-BOOK THE ADVENTURES ***\n\nBody line.\n\n"
        "End of the Project Gutenberg EBook of The Adventures of Sherlock Holmes\n\n"
        "*** END OF THIS PROJECT GUTENBERG E-BOOK THE ADVENTURES ***\nlicence\n"
    )
    assert corpus.strip_gutenberg(old) == "Body line.\n"
    older = "*** START OF THE PROJECT GUTENBERG EBOOK X ***\nBody.\nEnd of Project Gutenberg's X, by Y\nlicence\n"
    assert corpus.strip_gutenberg(older) == "Body.\n"


def test_an_html_page_served_with_200_is_refused_naming_the_url(http_server, tmp_path):
    page = b"<!DOCTYPE html>\n<html><head><title>Just a moment...</title></head><body>robot check</body></html>"
    http_server.routes["/book.txt"] = Route((200, page, False))
    with pytest.raises(UserError, match=r"http://127\.0\.0\.1:\d+/book\.txt: looks like an HTML page"):
        corpus.decode_text(corpus.download(http_server.url("/book.txt"), tmp_path / "body"), http_server.url("/book.txt"))


def test_text_that_mentions_html_is_accepted():
    assert corpus.decode_text(b"How to write <html> by hand.\n", "notes.txt") == "How to write <html> by hand.\n"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_is_named_as_such(encoding):
    with pytest.raises(UserError, match="notes.txt: the corpus is UTF-16 text; convert it to UTF-8"):
        corpus.decode_text("ALL:\nSpeak, speak.\n".encode(encoding), "notes.txt")


def test_429_is_retried_after_the_servers_retry_after(http_server):
    route = http_server.routes["/busy.txt"] = Route((429, b"slow down", False, {"Retry-After": "0"}), (200, BODY, False))
    assert fetch(http_server, "/busy.txt") == BODY.decode()
    assert route.hits == 2


def test_retry_after_is_capped_at_the_longest_back_off(http_server):
    http_server.routes["/busy.txt"] = Route((429, b"slow down", False, {"Retry-After": "3600"}))
    with pytest.raises(UserError, match="429") as error:
        fetch(http_server, "/busy.txt")
    response = requests.get(http_server.url("/busy.txt"))
    wait = corpus.retry_wait(requests.HTTPError(response=response), attempt=0)
    assert wait == corpus.BACKOFF_S * 2 ** (corpus.DOWNLOAD_RETRIES - 1)
    assert "could not download" in str(error.value)


def test_a_checksum_given_for_the_default_corpus_is_checked():
    text = corpus.shakespeare_text()
    pinned = {"path": "", "url": "", "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}
    assert corpus.load(pinned, scratch=None) == text  # the default corpus downloads nothing
    with pytest.raises(UserError, match="corpus.sha256: checksum mismatch for the default corpus"):
        corpus.load({**pinned, "sha256": "0" * 64}, scratch=None)
