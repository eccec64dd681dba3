"""Results files: through symlinks, onto devices and pipes, modes kept, locked against a second run, and a failed
write saved elsewhere instead of lost."""

from __future__ import annotations

import json
import os
import shutil
import stat
import threading
from pathlib import Path

import pytest

from envdoctor.cli import main
from envdoctor.commands.bench import ResultsFiles
from envdoctor.outputs import OutputError, fallback_write, prepare

RESULTS = Path(__file__).parent.parent / "fixtures" / "results" / "cpu-tiny-2rounds.json"


def test_a_symlink_is_written_through_not_replaced(tmp_path: Path) -> None:
    real = tmp_path / "store" / "results.json"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "results.json"
    link.symlink_to(real)
    output = prepare("--output", link)
    output.write("new")
    output.release()
    assert link.is_symlink() and real.read_text() == "new"


def test_an_existing_files_mode_is_kept_and_a_new_one_follows_the_umask(tmp_path: Path) -> None:
    existing = tmp_path / "shared.json"
    existing.write_text("{}")
    existing.chmod(0o664)
    output = prepare("--output", existing)
    output.write("{}")
    output.release()
    assert stat.S_IMODE(existing.stat().st_mode) == 0o664
    old_mask = os.umask(0o027)
    try:
        fresh = prepare("--output", tmp_path / "fresh.json")
        fresh.write("{}")
        fresh.release()
    finally:
        os.umask(old_mask)
    assert stat.S_IMODE((tmp_path / "fresh.json").stat().st_mode) == 0o640


def test_a_character_device_is_written_in_place() -> None:
    output = prepare("--output", "/dev/null")
    assert not output.regular
    output.write("{}")
    output.release()
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_fifo_is_written_in_place(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    output = prepare("--output", fifo)
    output.write('{"ok": true}')
    reader.join(timeout=10)
    assert received == [b'{"ok": true}'] and stat.S_ISFIFO(fifo.stat().st_mode)


def test_no_temporary_or_lock_file_is_left_behind(tmp_path: Path) -> None:
    output = prepare("--output", tmp_path / "out" / "results.json")
    output.write("{}")
    output.release()
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["results.json"]


def test_a_second_run_on_the_same_output_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = prepare("--output", tmp_path / "results.json")
    try:
        with pytest.raises(OutputError, match=rf"another envdoctor \(pid {os.getpid()}\) is writing it"):
            prepare("--output", tmp_path / "results.json")
        assert main(["bench", "--device", "cpu", "--output", str(tmp_path / "results.json")]) == 2
        assert f"another envdoctor (pid {os.getpid()})" in capsys.readouterr().err
    finally:
        first.release()
    prepare("--output", tmp_path / "results.json").release()  # free again once the first is done


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through any permission")
def test_a_read_only_directory_is_refused_before_any_work(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    with pytest.raises(OutputError, match="cannot write in"):
        prepare("--output", locked / "results.json")


def test_a_failed_write_keeps_the_run_going_and_ends_in_a_fallback_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("envdoctor.outputs.tempfile.gettempdir", lambda: str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    output = prepare("--output", tmp_path / "out" / "results.json")
    files = ResultsFiles({"--output": output})
    files.save("--output", '{"cells": 1}')
    shutil.rmtree(tmp_path / "out")  # the directory vanishes mid-run
    files.save("--output", '{"cells": 2}')
    files.save("--output", '{"cells": 3}')
    assert capsys.readouterr().err.count("warning: cannot write --output") == 1  # said once, not per cell
    assert files.rescue()
    err = capsys.readouterr().err
    saved = Path(err.split("saved to ")[1].split(" instead")[0])
    assert json.loads(saved.read_text()) == {"cells": 3} and saved.parent == tmp_path / "tmp"
    assert "could not be written (No such file or directory)" in err
    output.release()


def test_the_fallback_tries_the_next_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("envdoctor.outputs.tempfile.gettempdir", lambda: str(tmp_path / "missing"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    path = fallback_write("{}", "output")
    assert path.parent == tmp_path / "home" and path.read_text() == "{}"


def test_compare_writes_its_markdown_through_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real.md"
    link = tmp_path / "summary.md"
    link.symlink_to(real)
    assert main(["compare", str(RESULTS), str(RESULTS), "--markdown", str(link)]) == 0
    assert link.is_symlink() and real.read_text().startswith("## envdoctor: no regression")


def test_two_flags_naming_one_file_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(tmp_path / "results.json")
    assert main(["bench", "--device", "cpu", "--output", path, "--save-baseline", path]) == 2
    assert capsys.readouterr().err == f"envdoctor: error: --output and --save-baseline name the same file, {path}\n"
