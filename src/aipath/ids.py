"""The id grammar shared by the roadmap data and the lab manifests (one definition for both).

``p3`` is a phase, ``p3.dl`` a topic, ``p3.dl.attention`` a skill and ``p3-attention`` a lab.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

SLUG = r"[a-z0-9]+(?:-[a-z0-9]+)*"
PHASE_ID = re.compile(r"^p[1-9][0-9]*$")
TOPIC_ID = re.compile(rf"^p[1-9][0-9]*\.{SLUG}$")
SKILL_ID = re.compile(rf"^p[1-9][0-9]*\.{SLUG}\.{SLUG}$")
LAB_ID = re.compile(rf"^p[1-5]-{SLUG}$")
"""A lab id: its phase (1–5, the roadmap's five phases) and a slug."""

__all__ = ["LAB_ID", "PHASE_ID", "SKILL_ID", "SLUG", "TOPIC_ID", "suggest"]


def suggest(wanted: str, known: Iterable[str]) -> str:
    """`` (did you mean p1.python.numpy?)`` for a mistyped id, or an empty string."""
    close = difflib.get_close_matches(wanted, list(known), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(close)}?)" if close else ""
