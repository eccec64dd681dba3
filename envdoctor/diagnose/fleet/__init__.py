"""`fleet`'s judgement, pure: many nodes' check facts and bench results in, their configurations grouped and the odd
ones out named (config.py: software unlike the peers'; hardware.py: GPUs below what they could do; throughput.py:
bench cells far from the peers' median)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import PurePath
from typing import Optional, TypeVar

from envdoctor.diagnose.fleet.config import groups, software_oddities, summarize
from envdoctor.diagnose.fleet.hardware import gpu_oddities
from envdoctor.diagnose.fleet.model import FleetReport, Node, Skipped
from envdoctor.diagnose.fleet.throughput import cell_spreads
from envdoctor.facts import Facts
from envdoctor.results.load import BenchResults

D = TypeVar("D", Facts, BenchResults)


def _host(named: Optional[str], path: Optional[str]) -> str:
    """The host a document names, else its file name up to the first dot ("node07.check.json" → "node07")."""
    return named or PurePath(path or "unnamed").name.split(".")[0]


def check_host(facts: Facts) -> str:
    return _host(facts.origin.hostname, facts.origin.path)


def bench_host(results: BenchResults) -> str:
    volatile = results.fingerprint.get("volatile")
    named = volatile.get("hostname") if isinstance(volatile, dict) else None
    return _host(str(named) if named else None, results.path)


def _by_host(kind: str, documents: Sequence[D], host_of: Callable[[D], str], path_of: Callable[[D], Optional[str]],
             skipped: list[Skipped]) -> dict[str, D]:
    """Documents of one kind by host; a second one for a host goes to `skipped`, naming the first."""
    found: dict[str, D] = {}
    for document in documents:
        host = host_of(document)
        if host in found:
            skipped.append(Skipped(path_of(document) or "?", f"a second {kind} document for host {host} (the first "
                                                             f"is {path_of(found[host])}); name each node's files "
                                                             "apart"))
        else:
            found[host] = document
    return found


def pair(checks: Sequence[Facts], benches: Sequence[BenchResults]) -> tuple[list[Node], list[Skipped]]:
    """One node per host name: its check document and its bench results, either alone where the other is missing.
    A second document of the same kind for one host is skipped (the first, in the order given, is kept): nothing
    says which of them describes the host."""
    skipped: list[Skipped] = []
    facts = _by_host("check", checks, check_host, lambda f: f.origin.path, skipped)
    results = _by_host("bench", benches, bench_host, lambda r: r.path, skipped)
    return [Node(host, facts.get(host), results.get(host)) for host in sorted({*facts, *results})], skipped


def judge_fleet(nodes: Sequence[Node], skipped: Sequence[Skipped] = ()) -> FleetReport:
    summaries, notes = [], []
    for node in nodes:
        summary, disagreements = summarize(node)
        summaries.append(summary)
        notes.extend(disagreements)
    software, unknown = software_oddities(summaries)
    hardware, hardware_notes = gpu_oddities(nodes)
    spreads, speed, speed_notes = cell_spreads(nodes)
    oddities = sorted(software + hardware + speed, key=lambda o: o.host)
    return FleetReport(tuple(summaries), groups(summaries), tuple(oddities), tuple(spreads),
                       tuple(notes + unknown + hardware_notes + speed_notes), tuple(skipped))
