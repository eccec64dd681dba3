"""`envdoctor update` against recorded real index pages (tests/fixtures/wheel_index/, see tests/fixtures/README.md),
served over HTTP on 127.0.0.1 and read as a file:// tree; the overlay merge, borrowed arch rows and freshness notes."""

from __future__ import annotations

import ast
import http.server
import json
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlsplit

import pytest

from envdoctor.cli import main
from envdoctor.commands.update import UpdateOptions, run_update
from envdoctor.diagnose.freshness import freshness_notes
from envdoctor.diagnose.rules import diagnose
from envdoctor.index.derive import platform_of, python_minor
from envdoctor.index.fetch import Response, fetcher
from envdoctor.index.pages import PageError, cuda_variant, parse_html, parse_json, parse_metadata
from envdoctor.knowledge import Knowledge, knowledge
from envdoctor.knowledge.overlay import OverlayError, cache_dir, read_overlay
from tests.helpers import facts_for

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "wheel_index"
TORCH_PAGE = FIXTURES / "download.pytorch.org" / "whl" / "cu128" / "torch" / "index.html"
PYPI_METADATA_270 = next(FIXTURES.glob("files.pythonhosted.org/**/torch-2.7.0-*.metadata"))


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the fixture tree (http.server's own listings for directories without a page; a PEP 691 index.json
    where one is recorded) and three faults: /slow/ (sleeps), /broken/ (HTTP 500), /cut/ (a short body)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, directory=str(FIXTURES), **kwargs)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path.startswith("/slow/"):
            time.sleep(2)
        if path.startswith("/broken/"):
            self.send_error(500, "Internal Server Error")
            return
        if path.startswith("/cut/"):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(TORCH_PAGE.read_bytes()[:500])
            return
        recorded = FIXTURES / path.lstrip("/") / "index.json"
        if path.endswith("/") and recorded.is_file():
            body = recorded.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.pypi.simple.v1+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (the timeout test) is expected, not worth a traceback


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("ENVDOCTOR_CACHE_DIR", str(directory))
    return directory


def _overlay(cache: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((cache / "knowledge-overlay.json").read_text(encoding="utf-8"))
    return document


def _assert_cu128_270(row: dict[str, Any]) -> None:
    """What the recorded /whl/cu128/torch/ excerpt shows for torch 2.7.0."""
    assert row["version"] == "2.7" and row["patches"] == ["2.7.0"]
    assert row["variants"] == ["cu128"] and row["cuda"] == [{"variant": "cu128", "cuda": "12.8"}]
    assert row["python"] == ["3.9", "3.10", "3.11", "3.12", "3.13"]
    assert row["free_threaded"] == ["3.13t"]
    assert row["platforms"] == ["linux-aarch64", "linux-x86_64", "windows-x86_64"]
    assert row["glibc"] == {"aarch64": "2.28", "x86_64": "2.28"}
    assert row["min_macos"] == {}


def test_update_over_http_writes_the_overlay(server: str, cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["update", "--index-url", f"{server}/download.pytorch.org/whl/", "--no-pypi", "--since", "2.7"])
    assert code == 0, capsys.readouterr().err
    overlay = _overlay(cache)
    assert overlay["schema"] == "envdoctor-knowledge-overlay" and overlay["valid_as_of"] == date.today().isoformat()
    [row] = overlay["releases"]
    _assert_cu128_270(row)
    # the page advertises PEP 658 metadata under /whl/cu128/, which this server does not hold: unknown, said so
    assert "requires_python" not in row
    assert overlay["gaps"] == ["torch 2.7.0: Requires-Python served neither by the index nor by PyPI"]
    assert "knowledge overlay written to" in capsys.readouterr().out


def test_update_reads_a_file_wheelhouse_tree(cache: Path) -> None:
    code = main(["update", "--index-url", (FIXTURES / "download.pytorch.org" / "whl").as_uri() + "/", "--no-pypi",
                 "--since", "2.7"])
    assert code == 0
    _assert_cu128_270(_overlay(cache)["releases"][0])


def test_pypi_gives_requires_python_and_the_default_variant(server: str) -> None:
    """PyPI's recorded JSON page and wheel metadata, with its public hosts mapped onto the local server."""
    real = fetcher(5.0)

    def local(url: str, accept: str) -> Optional[Response]:
        parts = urlsplit(url)
        return real(f"{server}/{parts.netloc}{parts.path}" if parts.scheme == "https" else url, accept)

    options = UpdateOptions(since="2.7", index_url=f"{server}/download.pytorch.org/whl/",
                            pypi_url="https://pypi.org/simple/")
    overlay = run_update(options, local, date(2026, 12, 4))
    assert overlay["gaps"] == []
    [row] = overlay["releases"]
    assert row["requires_python"] == ">=3.9.0"  # PyPI's torch 2.7.0 files
    assert row["pypi_default"] == "cu126"  # nvidia-cuda-runtime-cu12==12.6.77 in its manylinux x86_64 wheel


@pytest.mark.parametrize("path", ["/broken/", "/cut/", "/missing/"])
def test_a_page_that_cannot_be_read_keeps_the_previous_overlay(server: str, cache: Path, path: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    cache.mkdir()
    (cache / "knowledge-overlay.json").write_text("previous", encoding="utf-8")
    assert main(["update", "--index-url", server + path, "--no-pypi"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "previous knowledge overlay is kept" in err
    assert (cache / "knowledge-overlay.json").read_text(encoding="utf-8") == "previous"


def test_a_timeout_is_one_line(server: str, cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["update", "--index-url", f"{server}/slow/", "--no-pypi", "--timeout", "0.3"]) == 2
    err = capsys.readouterr().err
    assert "no answer within 0.3 s" in err and err.count("\n") == 1
    assert not (cache / "knowledge-overlay.json").exists()


def test_a_page_cut_mid_tag_is_refused(tmp_path: Path, cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "whl" / "cu128" / "torch"
    page.mkdir(parents=True)
    (page / "index.html").write_bytes(TORCH_PAGE.read_bytes()[:1200])
    assert main(["update", "--index-url", (tmp_path / "whl").as_uri() + "/", "--no-pypi"]) == 2
    assert "ends in the middle" in capsys.readouterr().err


@pytest.mark.parametrize("flags", [["--timeout", "0"], ["--timeout", "nan"], ["--timeout", "601"],
                                   ["--index-url", "ftp://example.org/"], ["--since", "latest"]])
def test_bad_flags_are_one_line(flags: list[str], cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["update", *flags]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_parsers_on_recorded_pages() -> None:
    links = parse_html(TORCH_PAGE.read_text(encoding="utf-8"), "https://download.pytorch.org/whl/cu128/torch/")
    assert len(links) == 18 and all(link.metadata for link in links)
    assert links[1].url == ("https://download.pytorch.org/whl/cu128/torch-2.7.0%2Bcu128-cp310-cp310-"
                            "manylinux_2_28_x86_64.whl")
    with pytest.raises(PageError):
        parse_html("<html><body>" + TORCH_PAGE.read_text(encoding="utf-8") + "</body>", "x")
    assert cuda_variant(parse_metadata(PYPI_METADATA_270.read_bytes()).requires_dist) == "cu126"
    # the CUDA 13 spelling: a line of torch-2.14.0+cu130-cp314-cp314-manylinux_2_28_x86_64.whl's METADATA, as quoted
    # (read 2026-09-26) in a third-party test file (code index file id 69600657278)
    assert cuda_variant(("cuda-toolkit[cublas,cudart,cufft,cufile,cupti,curand,cusolver,cusparse,nvjitlink,nvrtc,"
                         "nvtx]==13.0.2",)) == "cu130"
    assert platform_of("macosx_14_0_arm64") == ("macos-arm64", "14.0")
    assert platform_of("manylinux2014_aarch64") == ("linux-aarch64", "2.17")
    assert platform_of("win_amd64") == ("windows-x86_64", None)
    assert python_minor("cp314t") == "3.14t" and python_minor("py3") is None


def _new_release_overlay() -> dict[str, Any]:
    return {"schema": "envdoctor-knowledge-overlay", "schema_version": 1, "valid_as_of": "2026-12-04",
            "releases": [{"version": "2.99", "patches": ["2.99.0"], "python": ["3.12"], "free_threaded": ["3.12t"],
                          "cuda": [{"variant": "cu130", "cuda": "13.0"}], "rocm": [], "platforms": ["linux-x86_64"],
                          "glibc": {"x86_64": "2.28"}, "min_macos": {}, "torchvision": {}, "torchaudio": {},
                          "pypi_default": "cu130", "requires_python": ">=3.12"}]}


def test_a_new_release_borrows_the_previous_arch_list_and_says_so() -> None:
    bundled = Knowledge()
    merged = Knowledge(_new_release_overlay())
    newest_bundled = bundled.releases[0].series
    assert merged.releases[0].series == "2.99" and merged.releases[0].free_threaded == ("3.12t",)
    assert merged.knowledge_date == "2026-12-04"
    previous = bundled.archs(f"{newest_bundled}.0+cu130", "cu130", "linux-x86_64")
    borrowed = merged.archs("2.99.0+cu130", "cu130", "linux-x86_64")
    assert previous is not None and borrowed is not None
    assert borrowed.archs == previous.archs and borrowed.borrowed_from == newest_bundled
    assert bundled.archs("2.99.0+cu130", "cu130", "linux-x86_64") in (None, previous)
    assert merged.ranged(merged.linux_glibc, "2.99.0", "x86_64") == "2.28"


def test_a_bad_overlay_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "knowledge-overlay.json"
    assert read_overlay(path) is None
    path.write_text('{"schema": "something else"}', encoding="utf-8")
    with pytest.raises(OverlayError):
        read_overlay(path)
    path.write_text(json.dumps({**_new_release_overlay(), "valid_as_of": "last week"}), encoding="utf-8")
    with pytest.raises(OverlayError, match="not a date"):
        read_overlay(path)


def test_cache_dir_order() -> None:
    assert cache_dir({"ENVDOCTOR_CACHE_DIR": "/a", "XDG_CACHE_HOME": "/b"}) == Path("/a")
    assert cache_dir({"XDG_CACHE_HOME": "/b"}) == Path("/b/envdoctor")
    assert cache_dir({"XDG_CACHE_HOME": "relative"}) == Path.home() / ".cache" / "envdoctor"


def test_freshness_notes() -> None:
    today = date(2026, 12, 4)
    assert freshness_notes("2.14.1+cu130", "2.14", "2026-11-30", today) == ()
    [newer] = freshness_notes("2.15.0+cu130", "2.14", "2026-11-30", today)
    assert "newer than the knowledge base" in newer and "envdoctor update" in newer
    [stale] = freshness_notes(None, "2.14", "2026-09-04", today)
    assert "91 days old" in stale and "envdoctor update" in stale
    assert freshness_notes(None, "2.14", "2026-09-05", today) == ()


def test_only_the_index_fetcher_imports_urllib() -> None:
    package = Path(__file__).resolve().parents[2] / "envdoctor"
    importers = set()
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] in ("urllib", "http", "socket") and n != "urllib.parse" for n in names):
                importers.add(source.relative_to(package).as_posix())
    assert importers <= {"index/fetch.py", "check.py"}  # check.py: socket.gethostname() only


def test_a_finding_on_a_borrowed_arch_list_says_so() -> None:
    merged = Knowledge(_new_release_overlay())
    facts = facts_for(torch="2.99.0+cu130", driver="580.65.06", gpus=(("NVIDIA GeForce GTX 1080", (6, 1)),))
    [finding] = [f for f in diagnose(facts, merged) if f.id == "gpu-arch-unsupported"]
    evidence = dict(finding.evidence)["wheel architectures"]
    assert f"borrowed from torch {Knowledge().releases[0].series}" in evidence


@pytest.fixture
def fresh_knowledge() -> Iterator[None]:
    """`knowledge()` is cached per process: read the overlay of this test, and leave no merged tables behind."""
    knowledge.cache_clear()
    yield
    knowledge.cache_clear()


def test_other_commands_merge_the_overlay(cache: Path, fresh_knowledge: None,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["update", "--index-url", (FIXTURES / "download.pytorch.org" / "whl").as_uri() + "/", "--no-pypi",
                 "--since", "2.7"]) == 0
    assert knowledge().overlay_date == date.today().isoformat()
    assert "3.13t" in knowledge().release("2.7.0").free_threaded  # type: ignore[union-attr]
    capsys.readouterr()
    assert main(["advise", "--python", "3.12", "--os", "linux", "--torch", "2.7"]) in (0, 1)
    assert "Traceback" not in capsys.readouterr().err


def test_a_malformed_overlay_is_one_line_for_every_command(cache: Path, fresh_knowledge: None,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    cache.mkdir()
    (cache / "knowledge-overlay.json").write_text("{not json", encoding="utf-8")
    assert main(["advise", "--python", "3.12", "--os", "linux"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "envdoctor update" in err and "knowledge-overlay.json" in err


def test_an_unwritable_cache_or_a_missing_tree_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    tree = (FIXTURES / "download.pytorch.org" / "whl").as_uri() + "/"
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("ENVDOCTOR_CACHE_DIR", str(blocker))
    assert main(["update", "--index-url", tree, "--no-pypi"]) == 2
    monkeypatch.setenv("ENVDOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["update", "--index-url", (tmp_path / "nowhere").as_uri() + "/", "--no-pypi"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "Traceback" not in err and "not found" in err


def test_a_hostile_json_page_is_refused_before_parsing() -> None:
    # json.loads would recurse until RecursionError, a traceback; the bounded reader refuses it as a bad page
    with pytest.raises(PageError, match="nested more than 64 levels deep"):
        parse_json("[" * 100_000 + "]" * 100_000, "https://pypi.org/simple/torch/")
