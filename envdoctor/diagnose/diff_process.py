"""What the torch process ran with, compared between two machines: the CUDA libraries it really loaded and the
environment variables that change its behaviour. The ranks and reasons come from the knowledge base's tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from envdoctor.diagnose.differences import Collector, Group, Known, Rank, Steps, version_step
from envdoctor.facts import Facts, LoadedLibrary
from envdoctor.knowledge import Knowledge
from envdoctor.knowledge.environment import watched

WHEEL = "torch-wheel"
LIBRARY_STEPS: Steps = (Rank.MEDIUM, Rank.LOW, Rank.LOW, Rank.LOW)


def _stages(facts: Facts, libraries: Sequence[LoadedLibrary]) -> set[str]:
    """The stages at which a side listed its libraries: at import always; after CUDA initialisation only where it
    ran (`check --deep`)."""
    ran_cuda = facts.deep is not None or any(lib.stage == "cuda-init" for lib in libraries)
    return {"import", "cuda-init"} if ran_cuda else {"import"}


def _shown(entries: Sequence[LoadedLibrary]) -> Optional[str]:
    """A library's copies on one side: "9.1.0 (torch-wheel)"; None when it was not loaded."""
    shown = dict.fromkeys(f"{lib.version or 'version unknown'} ({lib.origin})" for lib in entries)
    return "; ".join(sorted(shown)) or None


def _library_rank(why: str, ea: Sequence[LoadedLibrary], eb: Sequence[LoadedLibrary]) -> tuple[Rank, str]:
    if not ea or not eb:
        return Rank.MEDIUM, f"loaded on one side only: {why}"
    origins = [sorted({lib.origin for lib in entries}) for entries in (ea, eb)]
    if origins[0] != origins[1]:
        rank = Rank.HIGH if WHEEL in origins[0] + origins[1] else Rank.MEDIUM  # a system copy in place of the wheel's
        return rank, f"from {', '.join(origins[0])} on A, {', '.join(origins[1])} on B: {why}"
    return LIBRARY_STEPS[version_step(ea[0].version, eb[0].version)], why


def compare_libraries(c: Collector, kb: Knowledge, a: Facts, b: Facts) -> None:
    """Per library family ("libcudnn"): the versions and origins each side loaded."""
    la, lb = a.torch.loaded_libraries, b.torch.loaded_libraries
    if la is None or lb is None:
        if la is not None or lb is not None:
            known_on, libraries, blind = ("A", la, b) if la is not None else ("B", lb, a)
            named = list(dict.fromkeys(f"{lib.name} {lib.version or ''}".strip() for lib in libraries or ()
                                       if lib.version_source != "wheel torch"))  # torch's own: its version row
            shown = ", ".join(named[:6]) + (f", … ({len(named)} in all)" if len(named) > 6 else "")
            c.unknown(Group.LIBRARIES, "loaded libraries", Known(shown or None), known_on,
                      blind.torch.unknown.get("loaded_libraries", "not recorded"))
        return
    stages = (_stages(a, la), _stages(b, lb))
    for name in dict.fromkeys(lib.name for lib in (*la, *lb)):
        entries = ([lib for lib in la if lib.name == name], [lib for lib in lb if lib.name == name])
        known = []
        for label, found, seen, theirs in (("A", entries[0], stages[0], entries[1]),
                                           ("B", entries[1], stages[1], entries[0])):
            unseen = not found and all(lib.stage not in seen for lib in theirs)
            known.append(Known(None, f"{label} listed its libraries at import only (check without --deep)")
                         if unseen else Known(_shown(found)))
        why = kb.library_note(name)
        c.fact(Group.LIBRARIES, name, known[0], known[1], *_library_rank(why, *entries))


def compare_environment(c: Collector, a: Facts, b: Facts) -> None:
    """Each variable set on either side, ranked by envdoctor/knowledge/environment.py's table (foot-guns first). A
    side whose variables were not read knows only those it lists (a collect_env report: CUDA_MODULE_LOADING); the
    others set on the other side are one "not comparable" row."""
    sides = (("A", a.system), ("B", b.system))
    blind: dict[str, list[str]] = {"A": [], "B": []}  # per side that knows them, the variables the other does not
    for name in sorted(set(a.system.environment) | set(b.system.environment)):
        known = [Known(s.environment.get(name)) if name in s.environment or "environment" not in s.unknown
                 else Known(None, s.unknown["environment"]) for _, s in sides]
        if known[0].unknown is not None or known[1].unknown is not None:
            if known[0].unknown is None or known[1].unknown is None:
                label, system = sides[0] if known[0].unknown is None else sides[1]
                blind[label].append(f"{name}={system.environment[name]}" if name in system.environment else name)
            continue
        row = watched(name)
        rank, why = (Rank[row.rank.upper()], row.why) if row else (Rank.LOW, "not a variable envdoctor watches")
        c.fact(Group.ENVIRONMENT, name, known[0], known[1], rank, why)
    for label, system in sides:
        other = b.system if label == "A" else a.system
        if "environment" in other.unknown and (blind[label] or "environment" not in system.unknown):
            c.unknown(Group.ENVIRONMENT, "environment variables", Known(", ".join(blind[label]) or "none set"), label,
                      other.unknown["environment"])
