"""Property tests: real reports and results documents, cut, shuffled, re-encoded, salted with junk and with values
of the wrong type, always end in a documented exit code and, for a refusal, one line (never a traceback)."""

from __future__ import annotations

import copy
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envdoctor.cli import main
from tests.machines import check_document

FIXTURES = Path(__file__).parent.parent / "fixtures"
REPORTS = sorted((FIXTURES / "collect_env").glob("*.txt"))
RESULTS = [FIXTURES / "results" / "cpu-tiny-2rounds.json", FIXTURES / "results" / "cpu-tiny-2rounds-rerun.json"]
CHECK_EXIT_CODES = {0, 1, 2}  # no finding, an error finding, refused input
DIFF_EXIT_CODES = {0, 1, 2}  # nothing that matters differs, something does, refused input
COMPARE_EXIT_CODES = {0, 2, 3, 4}  # no regression, refused input, an output not written, a regression
WORKDIR = Path(tempfile.mkdtemp(prefix="envdoctor-fuzz-"))
# 150 examples a property in the suite (about 30 s in all); ENVDOCTOR_FUZZ_EXAMPLES=3000 for a deeper search.
FUZZ = settings(max_examples=int(os.environ.get("ENVDOCTOR_FUZZ_EXAMPLES", "150")), deadline=None,
                # capsys is read, and so emptied, after every example
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8)


CHECK_DOCUMENTS = {name: check_document(name) for name in ("h200", "rtx-4090", "mixed-2gpu")}


def run(capsys: pytest.CaptureFixture[str], argv: list[str], allowed: set[int]) -> int:
    code = main(argv)
    err = capsys.readouterr().err
    assert code in allowed, err
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("envdoctor: error: "), err
    return code


def write(name: str, data: bytes) -> str:
    path = WORKDIR / name
    path.write_bytes(data)
    return str(path)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a JSON tree (lists: their first three items only, so that long step-time lists do not
    crowd out the rest)."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:3]):
            yield from paths(item, (*prefix, index))


def mutate(document: Any, where: tuple[Any, ...], how: str, value: Any) -> Any:
    """A copy of `document` with the value at `where` replaced, deleted, or given a sibling key."""
    result = copy.deepcopy(document)
    if not where:
        return value
    parent = result
    for step in where[:-1]:
        parent = parent[step]
    last = where[-1]
    if how == "delete":
        del parent[last]
    elif how == "add" and isinstance(parent, dict):
        parent[f"{last}_extra"] = value
    else:
        parent[last] = value
    return result


def test_found_by_the_fuzzer_a_cuda_version_without_a_dot(capsys: pytest.CaptureFixture[str]) -> None:
    """3000 examples a property found these: a report cut inside "CUDA used to build PyTorch: 10.0", and a
    document whose torch.cuda is "0", made the variant lookup unpack one number into two."""
    report = (FIXTURES / "collect_env" / "21_geforce210-win7-torch120-cu100-driver342.txt").read_bytes()[:71]
    run(capsys, ["check", "--from", write("cut.txt", report)], CHECK_EXIT_CODES)
    document = copy.deepcopy(CHECK_DOCUMENTS["h200"])
    document["facts"]["torch"]["cuda"] = "0"
    run(capsys, ["check", "--from", write("cuda0.json", json.dumps(document).encode())], CHECK_EXIT_CODES)


@pytest.mark.parametrize("report", REPORTS, ids=lambda p: p.stem[:30])
def test_a_report_cut_at_every_line(report: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = report.read_bytes()
    offsets = [i + 1 for i, byte in enumerate(text) if byte == ord("\n")]
    for offset in [0, *offsets]:
        run(capsys, ["check", "--from", write("cut.txt", text[:offset]), "--json"], CHECK_EXIT_CODES)


@FUZZ
@given(report=st.sampled_from(REPORTS), data=st.data())
def test_a_report_mangled(report: Path, data: st.DataObject, capsys: pytest.CaptureFixture[str]) -> None:
    lines = report.read_text(encoding="utf-8").splitlines(keepends=True)
    operation = data.draw(st.sampled_from(["cut", "delete", "shuffle", "junk", "duplicate"]))
    if operation == "cut":
        text = "".join(lines)[:data.draw(st.integers(0, sum(map(len, lines))))]
    elif operation == "delete":
        doomed = data.draw(st.sets(st.integers(0, len(lines) - 1), max_size=len(lines)))
        text = "".join(line for i, line in enumerate(lines) if i not in doomed)
    elif operation == "shuffle":
        text = "".join(data.draw(st.permutations(lines)))
    elif operation == "junk":
        position = data.draw(st.integers(0, len(lines)))
        junk = data.draw(st.text(min_size=1, max_size=80))
        text = "".join(lines[:position]) + junk + "".join(lines[position:])
    else:
        index = data.draw(st.integers(0, len(lines) - 1))
        text = "".join([*lines[:index + 1], lines[index].replace(":", ": 99.9.9 "), *lines[index + 1:]])
    codec = data.draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32", "latin-1"]))
    encoded = text.encode(codec, errors="replace")
    run(capsys, ["check", "--from", write("mangled.txt", encoded), *data.draw(st.sampled_from([[], ["--json"]]))],
        CHECK_EXIT_CODES)
    run(capsys, ["diff", str(report), str(WORKDIR / "mangled.txt")], DIFF_EXIT_CODES)


@FUZZ
@given(name=st.sampled_from(sorted(CHECK_DOCUMENTS)), data=st.data())
def test_a_check_document_with_wrong_values(name: str, data: st.DataObject,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    document = CHECK_DOCUMENTS[name]
    where = data.draw(st.sampled_from(list(paths(document))))
    mutated = mutate(document, where, data.draw(st.sampled_from(["replace", "delete", "add"])), data.draw(json_values))
    path = write("check.json", json.dumps(mutated).encode())
    run(capsys, ["check", "--from", path, "--json"], CHECK_EXIT_CODES)
    run(capsys, ["bench", "--dry-run", "--from", path, "--device", "cuda", "--json"], {0, 2})
    run(capsys, ["diff", path, str(REPORTS[data.draw(st.integers(0, len(REPORTS) - 1))]), "--json"], DIFF_EXIT_CODES)


RESULT_DOCUMENTS = [json.loads(path.read_text()) for path in RESULTS]


@FUZZ
@given(data=st.data())
def test_compare_with_wrong_values(data: st.DataObject, capsys: pytest.CaptureFixture[str]) -> None:
    baseline, current = RESULT_DOCUMENTS
    where = data.draw(st.sampled_from(list(paths(current))))
    mutated = mutate(current, where, data.draw(st.sampled_from(["replace", "delete", "add"])), data.draw(json_values))
    base_path = write("base.json", json.dumps(baseline).encode())
    mutated_path = write("mutated.json", json.dumps(mutated).encode())
    gate = data.draw(st.sampled_from(["samples_per_s:5%", "peak_memory:10%", "compile_s:50%"]))
    pair = [base_path, mutated_path] if data.draw(st.booleans()) else [mutated_path, base_path]
    run(capsys, ["compare", *pair, "--gate", gate, "--allow-env-change"], COMPARE_EXIT_CODES)
    run(capsys, ["compare", *pair, "--json"], COMPARE_EXIT_CODES)


@FUZZ
@given(cut=st.integers(0, len(RESULTS[1].read_bytes())))
def test_compare_with_a_results_file_cut_short(cut: int, capsys: pytest.CaptureFixture[str]) -> None:
    truncated = write("truncated.json", RESULTS[1].read_bytes()[:cut])
    run(capsys, ["compare", str(RESULTS[0]), truncated], COMPARE_EXIT_CODES)
