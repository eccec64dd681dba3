"""A saved `envdoctor check --json` document turned back into facts, checking every field's type on the way."""

from __future__ import annotations

import dataclasses
from typing import Any

from envdoctor.facts import Facts
from envdoctor.facts.report import CHECK_SCHEMA, CHECK_SCHEMA_VERSION
from envdoctor.knowledge import knowledge
from envdoctor.plain import from_plain
from envdoctor.probe.torch_child import NCCL_NOT_READ


def facts_from_document(document: Any, path: str) -> Facts:
    """The facts of an `envdoctor check --json` document, marked as read from `path`."""
    if not isinstance(document, dict) or document.get("schema") != CHECK_SCHEMA:
        raise ValueError(f"JSON, but not an envdoctor check document (no \"schema\": \"{CHECK_SCHEMA}\")")
    if document.get("schema_version") != CHECK_SCHEMA_VERSION:
        raise ValueError(f"an envdoctor check document of schema version {document.get('schema_version')}; "
                         f"this envdoctor reads version {CHECK_SCHEMA_VERSION}")
    facts: Facts = from_plain(Facts, document.get("facts"), "facts")
    kb = knowledge()
    capabilities = [(f"facts.torch.devices[{i}]", d.capability) for i, d in enumerate(facts.torch.devices)]
    capabilities += [(f"facts.nvidia.gpus[{i}]", g.compute_capability) for i, g in enumerate(facts.nvidia.gpus)
                     if g.compute_capability is not None]
    for where, capability in capabilities:
        error = kb.capability_error(capability)
        if error is not None:
            raise ValueError(f"{where}: {error}")
    torch = facts.torch
    if torch.status == "ok" and torch.cuda and torch.cuda_available is not True and torch.nccl is None \
            and "nccl" not in torch.unknown:  # written before the torch probe said why it read no NCCL
        facts = dataclasses.replace(facts, torch=dataclasses.replace(torch, unknown={**torch.unknown,
                                                                                     "nccl": NCCL_NOT_READ}))
    return dataclasses.replace(facts, origin=dataclasses.replace(facts.origin, kind="file", path=path))
