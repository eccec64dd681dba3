"""JSON documents: facts as plain data, with a schema name and version so readers can refuse what they don't know."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Optional

from envdoctor import __version__
from envdoctor.diagnose.advice import Advice
from envdoctor.diagnose.differences import MachineDiff
from envdoctor.diagnose.findings import Finding
from envdoctor.diagnose.report import Diagnosis
from envdoctor.facts import Facts
from envdoctor.facts.report import CHECK_SCHEMA, CHECK_SCHEMA_VERSION
from envdoctor.plain import to_plain

ADVICE_SCHEMA = "envdoctor.advice"
DIFF_SCHEMA = "envdoctor.diff"
DIFF_SCHEMA_VERSION = 1


def finding_plain(finding: Finding) -> dict[str, Any]:
    return {"id": finding.id, "severity": finding.severity.label, "title": finding.title,
            "evidence": [{"fact": name, "value": value} for name, value in finding.evidence],
            "fix": finding.fix, "command": finding.command}


def advice_plain(question: str, advice: Advice) -> dict[str, Any]:
    plan = advice.plan
    return {
        "question": question,
        "plan": None if plan is None else {
            "torch": plan.torch, "torchvision": plan.torchvision, "torchaudio": plan.torchaudio,
            "variant": plan.variant, "index_url": plan.index_url, "reasons": list(plan.reasons),
            "pip_command": plan.pip_command, "uv_command": plan.uv_command,
        },
        "passed_over": list(advice.passed_over),
        "not_planned": advice.not_planned,
    }


def check_document(facts: Facts, diagnosis: Optional[Diagnosis] = None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "schema": CHECK_SCHEMA,
        "schema_version": CHECK_SCHEMA_VERSION,
        "envdoctor_version": __version__,
    }
    if diagnosis is not None:
        document["knowledge_valid_as_of"] = diagnosis.valid_as_of
        document["findings"] = [finding_plain(f) for f in diagnosis.findings]
        document["not_checked"] = list(diagnosis.not_checked)
        document["advice"] = [advice_plain(q, a) for q, a in diagnosis.advice]
    document["facts"] = to_plain(facts)
    return document


def diff_document(diff: MachineDiff) -> dict[str, Any]:
    """`envdoctor diff --json`: the two sources, the verdict, each difference and what could not be compared."""
    worst = diff.worst()
    return {
        "schema": DIFF_SCHEMA,
        "schema_version": DIFF_SCHEMA_VERSION,
        "envdoctor_version": __version__,
        "knowledge_valid_as_of": diff.valid_as_of,
        "a": diff.a,
        "b": diff.b,
        "matters": diff.matters,
        "worst": worst.label if worst is not None else None,
        "differences": [{"group": d.group.value, "fact": d.fact, "a": d.a, "b": d.b, "rank": d.rank.label,
                         "why": d.why} for d in diff.differences],
        "not_comparable": [{"group": n.group.value, "fact": n.fact, "known_on": n.known_on, "value": n.value,
                            "unknown_on": n.unknown_on, "reason": n.reason} for n in diff.not_comparable],
    }


def dumps(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"
