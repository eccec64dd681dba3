"""A node's configuration (GPUs, driver, torch and its CUDA, cuDNN, NCCL), the groups of nodes that share one, and
the nodes whose software differs from the majority of their peers (the nodes with the same GPU model)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, Optional

from envdoctor.diagnose.fleet.model import NONE, ConfigGroup, Node, NodeSummary, Note, Oddity, Reading
from envdoctor.facts import Facts
from envdoctor.facts.torch import cudnn_release

FIELDS = ("gpus", "driver", "torch", "cuda", "cudnn", "nccl")
SOFTWARE = ("driver", "torch", "cuda", "cudnn", "nccl")  # compared with the peers' majority
LABELS = {"gpus": "GPUs", "driver": "driver", "torch": "torch", "cuda": "CUDA (torch's build)", "cudnn": "cuDNN",
          "nccl": "NCCL"}
NO_GPU = "no GPU"

Names = tuple[Optional[tuple[str, ...]], Optional[str]]  # GPU names (() for none), or None and why


def _gpu_names(facts: Facts) -> Names:
    """The node's GPUs by name: the NVIDIA driver's list, else torch's devices, else none when the PCI bus shows no
    display controller."""
    nvidia, accelerators = facts.nvidia, facts.accelerators
    if nvidia.gpus:
        unnamed = [g for g in nvidia.gpus if g.name is None]
        if unnamed:
            return None, f"GPU {unnamed[0].index}'s name: {unnamed[0].unknown.get('name', 'not reported')}"
        return tuple(g.name for g in nvidia.gpus if g.name is not None), None
    if facts.torch.status == "ok" and facts.torch.devices:
        return tuple(d.name for d in facts.torch.devices), None
    if "pci_gpus" not in accelerators.unknown and not accelerators.pci_gpus:
        return (), None
    if accelerators.pci_gpus:
        vendors = ", ".join(sorted({g.vendor for g in accelerators.pci_gpus}))
        return None, f"{len(accelerators.pci_gpus)} GPU(s) on the PCI bus ({vendors}) that no driver or torch named"
    return None, nvidia.unknown.get("gpus") or accelerators.unknown.get("pci_gpus") or "not reported"


def _format_gpus(names: tuple[str, ...]) -> str:
    if not names:
        return NONE
    return " + ".join(f"{count} x {name}" for name, count in Counter(names).items())


def _model(names: tuple[str, ...]) -> str:
    """Whom a node is compared with: its GPU model(s), whatever their count."""
    return " + ".join(sorted(set(names))) if names else NO_GPU


def _from_check(facts: Facts) -> dict[str, Reading]:
    nvidia, torch = facts.nvidia, facts.torch

    def read(value: Any, unknown: Optional[str]) -> Reading:
        if value is not None:
            return Reading(str(value), source="check")
        return Reading(None, unknown, "check") if unknown else Reading(NONE, source="check")

    names, why = _gpu_names(facts)
    readings = {"gpus": Reading(_format_gpus(names), source="check") if names is not None
                else Reading(None, why, "check"),
                "driver": read(nvidia.driver_version, nvidia.presence_unknown)}
    for name in ("torch", "cuda", "cudnn", "nccl"):
        if torch.status == "not_installed":
            readings[name] = Reading(NONE, source="check")
        elif torch.status != "ok":
            readings[name] = Reading(None, f"torch was not imported ({torch.status}: {torch.error or 'no reason'})",
                                     "check")
        else:
            value = torch.version if name == "torch" else getattr(torch, name)
            value = cudnn_release(value) if isinstance(value, int) else value  # cuDNN's 91900 is 9.19.0
            readings[name] = read(value, torch.unknown.get(name))
    return readings


def _from_bench(fingerprint: dict[str, Any]) -> dict[str, Reading]:
    """What a bench results' fingerprint says; it cannot tell "none" from "not recorded", so a missing value is
    unknown."""
    readings = {}
    for name, key in (("driver", "driver"), ("torch", "torch"), ("cuda", "cuda"), ("cudnn", "cudnn")):
        value = fingerprint.get(key)
        value = cudnn_release(int(value)) if key == "cudnn" and isinstance(value, int) else value
        readings[name] = (Reading(str(value), source="bench") if value is not None
                          else Reading(None, "the bench results record none", "bench"))
    gpus = fingerprint.get("gpus") or []
    readings["gpus"] = (Reading(_format_gpus(tuple(map(str, gpus))), source="bench") if gpus else
                        Reading(None, "the bench ran on no GPU, and its results list only the GPUs it ran on", "bench"))
    readings["nccl"] = Reading(None, "bench results do not record NCCL", "bench")
    return readings


def _pick(check: Optional[Reading], bench: Optional[Reading]) -> Reading:
    """The check's reading, unless it is unknown and the bench's is known."""
    if check is None or (check.value is None and bench is not None and bench.value is not None):
        assert bench is not None, "a node has a check document or bench results"
        return bench
    return check


def summarize(node: Node) -> tuple[NodeSummary, list[Note]]:
    """The node's readings, the check's first and the bench's where the check has none, and a note where the two
    documents disagree (the bench ran in another environment than the check saw)."""
    check = _from_check(node.facts) if node.facts else {}
    bench = _from_bench(node.results.fingerprint) if node.results else {}
    notes, config = [], {}
    for name in FIELDS:
        a, b = check.get(name), bench.get(name)
        config[name] = _pick(a, b)
        if name != "gpus" and a and b and a.value is not None and b.value is not None and a.value != b.value:
            notes.append(Note(node.host, name, f"the check says {LABELS[name]} {a.value}, the bench results "
                                               f"{b.value}: the bench ran in another environment"))
    names = _gpu_names(node.facts)[0] if node.facts else None
    if names is None and node.results and node.results.fingerprint.get("gpus"):
        names = tuple(map(str, node.results.fingerprint["gpus"]))
    summary = NodeSummary(node.host, node.facts.origin.path if node.facts else None,
                          node.results.path if node.results else None, config,
                          _model(names) if names is not None else None)
    return summary, notes


def groups(summaries: Sequence[NodeSummary]) -> tuple[ConfigGroup, ...]:
    """Nodes with the same readings together, the largest group first."""
    by_config: dict[tuple[str, ...], list[str]] = {}
    for s in summaries:
        by_config.setdefault(tuple(s.config[name].text for name in FIELDS), []).append(s.host)
    ordered = sorted(by_config.items(), key=lambda item: (-len(item[1]), item[1]))
    return tuple(ConfigGroup(dict(zip(FIELDS, texts)), tuple(hosts)) for texts, hosts in ordered)


def software_oddities(summaries: Sequence[NodeSummary]) -> tuple[list[Oddity], list[Note]]:
    """Per GPU model, each node whose driver, torch, CUDA, cuDNN or NCCL differs from the value a majority of its
    peers (those whose value is known) have; where no value has a majority, every node of the split."""
    oddities, notes = [], []
    by_model: dict[str, list[NodeSummary]] = {}
    for s in summaries:
        for name in FIELDS:
            reading = s.config[name]
            if reading.value is None:
                notes.append(Note(s.host, name, f"{LABELS[name]} unknown: {reading.unknown}"))
        if s.gpu_model is None:
            notes.append(Note(s.host, "gpus", "its GPUs are unknown, so its software is not compared with peers"))
        else:
            by_model.setdefault(s.gpu_model, []).append(s)
    for model, members in by_model.items():
        peers = f"nodes with {model}" if model != NO_GPU else "nodes with no GPU"
        for name in SOFTWARE:
            known = [(s.host, s.config[name].value) for s in members if s.config[name].value is not None]
            counts = Counter(value for _, value in known)
            if len(counts) < 2:
                continue
            top, count = counts.most_common(1)[0]
            split = ", ".join(f"{value} on {n}" for value, n in counts.most_common())
            for host, value in known:
                if count * 2 > len(known) and value != top:
                    oddities.append(Oddity(host, name, "node", f"{LABELS[name]} {value}, where {count} of "
                                                               f"{len(known)} {peers} have {top}"))
                elif count * 2 <= len(known):
                    oddities.append(Oddity(host, name, "node", f"{LABELS[name]} {value}: the {len(known)} {peers} "
                                                               f"are split with no majority ({split})"))
    return oddities, notes
