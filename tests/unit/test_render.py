"""The terminal report and the JSON document, rendered from fixed facts."""

from __future__ import annotations

import io
import json
import os
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from envdoctor.facts import DeepResult, TorchRuntime
from envdoctor.facts.report import CHECK_SCHEMA
from envdoctor.render.facts_text import render_facts
from envdoctor.render.json_doc import check_document, dumps
from tests.helpers import sample_facts

GOLDEN = Path(__file__).parent.parent / "golden"


def render(facts=None, width: int = 100) -> str:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    render_facts(Console(file=out, width=width, color_system=None), facts or sample_facts())
    return out.getvalue()


def test_report_matches_golden_text() -> None:
    text = render()
    golden = GOLDEN / "check_report.txt"
    if os.environ.get("ENVDOCTOR_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


def test_three_cuda_versions_are_labelled_apart() -> None:
    text = render()
    assert "CUDA, driver's max" in text and "12.2" in text
    assert "CUDA, torch built with" in text and "12.1" in text
    assert "CUDA, toolkit's nvcc" in text and "11.8.89" in text
    assert "CUDA runtime version" not in text


def test_failed_import_shows_the_error() -> None:
    broken = TorchRuntime(status="import_failed", error="Traceback ...\nOSError: libcudnn.so.9: cannot open shared")
    text = render(replace(sample_facts(), torch=broken))
    assert "import failed" in text and "libcudnn.so.9" in text


def test_machine_text_is_not_read_as_markup() -> None:
    facts = sample_facts()
    facts = replace(facts, toolkit=replace(facts.toolkit, nvcc_version="[bold]12.4[/bold]"))
    assert "[bold]12.4[/bold]" in render(facts)


def test_json_document_is_versioned_and_complete() -> None:
    document = json.loads(dumps(check_document(sample_facts())))
    assert document["schema"] == CHECK_SCHEMA and document["schema_version"] == 1
    facts = document["facts"]
    assert facts["nvidia"]["gpus"][1]["index"] == 1
    assert facts["nvidia"]["gpus"][0]["compute_capability"] == [8, 0]
    assert facts["torch"]["status"] == "ok"
    assert facts["origin"] == {"kind": "probe", "hostname": "gpu-node-7", "path": None, "interpreter": None}
    assert set(facts) == {"origin", "collected_at", "system", "nvidia", "accelerators", "packages", "torch",
                          "toolkit", "probe_seconds", "deep"}


def test_a_deep_check_not_run_says_why_and_is_not_a_failure() -> None:
    skipped = DeepResult("cuda:1", "matmul bfloat16", False, None, None,
                         skipped="cuda:1 has compute capability 7.0; native bfloat16 needs 8.0 (Ampere) or newer")
    text = render(replace(sample_facts(), deep=(skipped,)))
    assert "matmul bfloat16: not run: cuda:1 has compute capability 7.0" in text
    assert "FAILED" not in text


def test_environment_variables_set_and_why_the_others_are_unknown() -> None:
    facts = sample_facts()
    facts = replace(facts, system=replace(facts.system, environment={"CUDA_MODULE_LOADING": "LAZY"},
                                          unknown={"environment": "a collect_env report lists no other"}))
    text = render(facts, width=140)
    assert "Environment              CUDA_MODULE_LOADING=LAZY" in text
    assert "others unknown: a collect_env report lists no other" in text
