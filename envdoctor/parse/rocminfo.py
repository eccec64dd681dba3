"""`rocminfo` (ROCm's HSA agent listing): one block per agent, CPUs and GPUs alike."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class RocmAgent:
    name: str  # the ISA name: "gfx90a", "gfx1100"
    marketing_name: Optional[str]


def parse_rocminfo(text: str) -> tuple[RocmAgent, ...]:
    """The GPU agents, in order. Nested sections (ISA Info, Pools) repeat keys, so each key's first value wins."""
    agents: list[dict[str, str]] = []
    for line in text.splitlines():
        if re.match(r"^\s*Agent \d+\s*$", line):
            agents.append({})
            continue
        key, sep, value = line.partition(":")
        if agents and sep and key.strip() not in agents[-1]:
            agents[-1][key.strip()] = value.strip()
    return tuple(
        RocmAgent(agent["Name"], agent.get("Marketing Name") or None)
        for agent in agents
        if agent.get("Device Type") == "GPU" and agent.get("Name", "").startswith("gfx")
    )
