"""Is the knowledge base behind this machine or the calendar? Pure: facts and dates in, notes out."""

from __future__ import annotations

from datetime import date
from typing import Optional

from packaging.version import Version

from envdoctor.knowledge import torch_base

STALE_AFTER_DAYS = 90


def freshness_notes(torch_version: Optional[str], newest_series: str, knowledge_date: str,
                    today: date) -> tuple[str, ...]:
    """Notes naming `envdoctor update`: when the installed torch (e.g. "2.16.0+cu130") is newer than the newest
    release series the knowledge base holds, and when its date (the overlay's, else the bundled tables')
    is more than STALE_AFTER_DAYS before `today`."""
    notes = []
    base = torch_base(torch_version) if torch_version else None
    if base is not None and Version(f"{base.major}.{base.minor}") > Version(newest_series):
        notes.append(f"torch {torch_version} is newer than the knowledge base (which ends at {newest_series}); "
                     "run 'envdoctor update' to read the newest releases from the wheel index")
    age = (today - date.fromisoformat(knowledge_date)).days
    if age > STALE_AFTER_DAYS:
        notes.append(f"the knowledge base is {age} days old (as of {knowledge_date}); run 'envdoctor update' "
                     "to refresh it from the wheel index")
    return tuple(notes)
