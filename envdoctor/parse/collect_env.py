"""`python -m torch.utils.collect_env` reports as pasted into bug reports, from torch 1.x to today.

Fields came and went over the years; lines this parser does not know are skipped. It copes with markdown fences,
leading indentation, Windows line ends and full-width colons.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

# Every top-level field collect_env has printed; other "key: value" lines belong to the field above them
# (the lscpu block under "CPU:", "GPU 0: ..." lines, cuDNN's "Probably one of the following:" list).
KNOWN_FIELDS = frozenset({
    "PyTorch version", "Is debug build", "CUDA used to build PyTorch", "ROCM used to build PyTorch", "OS",
    "GCC version", "Clang version", "CMake version", "Libc version", "Python version", "Python platform",
    "Is CUDA available", "CUDA runtime version", "CUDA_MODULE_LOADING set to", "GPU models and configuration",
    "Nvidia driver version", "cuDNN version", "HIP runtime version", "MIOpen runtime version",
    "Is XNNPACK available", "CPU", "Versions of relevant libraries", "Is XPU available", "XPU used to build PyTorch",
    "Intel GPU driver version", "Intel GPU models onDetected", "Caching allocator config",
})
# "Collecting environment information...      PyTorch version: ...": a pasted report whose first two lines were
# joined by the terminal's padding
_JOINED = re.compile(r"^Collecting environment information\.\.\.\s+(?=\S)")
_LONGEST_FIRST = sorted(KNOWN_FIELDS, key=len, reverse=True)  # "CUDA runtime version" before "CUDA ..."
# Values that mean "nothing here".
EMPTY = frozenset({"", "N/A", "None", "Could not collect", "No CUDA", "No HIP", "Unknown"})
_LINE = re.compile(r"^([A-Za-z_][\w ./()-]*?)\s*[:\uff1a]\s?(.*)$")  # \uff1a: a full-width colon
_PIP = re.compile(r"^\[(pip3?|pip)\]\s+([A-Za-z0-9_.\-]+)\s*==\s*(\S+)")
_CONDA = re.compile(r"^\[conda\]\s+(\S+)\s+(\S+)\s*(\S*)\s*(\S*)")


@dataclass(frozen=True)
class CondaLine:
    name: str
    version: str
    build: str
    channel: str


@dataclass(frozen=True)
class CollectEnvReport:
    fields: dict[str, str]  # field → its first-line value, as printed
    continuation: dict[str, tuple[str, ...]]  # field → the lines under it
    pip: tuple[tuple[str, str], ...] = ()  # (name, version) from [pip3]/[pip] lines
    conda: tuple[CondaLine, ...] = ()
    preamble: tuple[str, ...] = ()  # lines before the first field: where torch's import warnings are printed

    def value(self, name: str) -> Optional[str]:
        """A field's value, or None when absent or one of collect_env's "nothing here" words."""
        value = self.fields.get(name, "").strip()
        return None if value in EMPTY else value


def parse_collect_env(text: str) -> CollectEnvReport:
    fields: dict[str, str] = {}
    continuation: dict[str, list[str]] = {}
    pip: list[tuple[str, str]] = []
    conda: list[CondaLine] = []
    preamble: list[str] = []
    current: Optional[str] = None
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = _JOINED.sub("", raw.strip())
        if not line or line.startswith("```") or line == "Collecting environment information...":
            continue
        if line.startswith("[pip") or line.startswith("[conda]"):
            if line.partition("]")[2].strip() in EMPTY:  # "[conda] Could not collect": no package
                continue
            pip_match, conda_match = _PIP.match(line), _CONDA.match(line)
            if pip_match:
                pip.append((pip_match.group(2), pip_match.group(3)))
            elif conda_match:
                conda.append(CondaLine(*conda_match.groups()))
            continue
        labelled = _labelled(line)
        if labelled is not None:
            current = labelled[0]
            fields.setdefault(current, labelled[1])
            continuation.setdefault(current, [])
        elif current is not None:
            continuation[current].append(line)
        else:
            preamble.append(line)
    return CollectEnvReport(fields, {k: tuple(v) for k, v in continuation.items()}, tuple(pip), tuple(conda),
                            tuple(preamble))


def _labelled(line: str) -> Optional[tuple[str, str]]:
    """(field, value) when the line starts a known field: "Label: value", with any whitespace in the label, or,
    in a line with no colon at all (one lost in pasting), "Label value"."""
    match = _LINE.match(line)
    if match:
        label = " ".join(match.group(1).split())
        return (label, match.group(2).strip()) if label in KNOWN_FIELDS else None
    if ":" in line or "\uff1a" in line:
        return None
    words = " ".join(line.split())
    for label in _LONGEST_FIRST:
        if words.startswith(label + " "):
            return label, words[len(label) + 1:].strip()
    return None
