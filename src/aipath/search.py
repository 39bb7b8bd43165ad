"""Find labs, topics, skills, resources and tools by words, for the dashboard's search box.

One rule for every front end: each word of the query must occur (case-insensitively) in the
item's id, title or text; a word in the title or id counts more than one in the description, so
"pandas" lists the pandas lab before a skill that mentions pandas in passing.  In the text a
word must start a word there ("lora" does not find "exploratory").  The roadmap is
small (a few hundred items), so a scan per query costs well under a millisecond per item and
needs no index to keep in step with the data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from aipath.labs import Catalogue
from aipath.roadmap import Roadmap

__all__ = ["SearchHit", "search"]

Kind = Literal["lab", "topic", "skill", "resource", "tool"]
_WORD = re.compile(r"[\w.+#-]+")
_KIND_ORDER: dict[str, int] = {"lab": 0, "skill": 1, "topic": 2, "resource": 3, "tool": 4}


@dataclass(frozen=True)
class SearchHit:
    """One item found; ``topic`` places skills and resources on the roadmap page."""

    kind: Kind
    id: str
    title: str
    detail: str
    topic: str | None = None
    url: str | None = None  # a resource's or tool's own address


@dataclass(frozen=True)
class _Item:
    hit: SearchHit
    head: str  # id and title, lower case
    body: str  # description and other text, lower case


def _items(roadmap: Roadmap, catalogue: Catalogue | None) -> list[_Item]:
    items: list[_Item] = []

    def add(hit: SearchHit, body: str) -> None:
        items.append(_Item(hit, f"{hit.id} {hit.title}".lower(), body.lower()))

    for lab in catalogue.labs if catalogue is not None else ():
        m = lab.manifest
        add(
            SearchHit("lab", m.id, m.title, f"phase {m.phase} lab · {m.minutes} min", m.topic),
            " ".join([m.topic, *m.skills]),
        )
    for topic in roadmap.all_topics():
        add(SearchHit("topic", topic.id, topic.title, topic.summary, topic.id), topic.summary)
        for skill in topic.skills:
            add(
                SearchHit("skill", skill.id, skill.title, skill.description, topic.id),
                skill.description,
            )
    for res in roadmap.resources:
        add(
            SearchHit(
                "resource",
                res.id,
                res.title,
                f"{res.author} · {res.kind} · {res.level}",
                res.topics[0],
                str(res.url),
            ),
            f"{res.author} {res.summary} {res.kind}",
        )
    for tool in roadmap.tools:
        add(
            SearchHit("tool", tool.id, tool.name, tool.summary, None, str(tool.url)),
            tool.summary,
        )
    return items


def search(
    query: str, roadmap: Roadmap, catalogue: Catalogue | None = None, *, limit: int = 30
) -> list[SearchHit]:
    """Items whose id, title or text hold every word of ``query``, best first."""
    words = [w.lower() for w in _WORD.findall(query)]
    if not words:
        return []
    scored: list[tuple[int, int, str, SearchHit]] = []
    for item in _items(roadmap, catalogue):
        score = 0
        for word in words:
            start = re.compile(rf"(?<![^\W_]){re.escape(word)}")
            if start.search(item.head):
                score += 3
            elif word in item.head:
                score += 2
            elif start.search(item.body):
                score += 1
            else:
                break
        else:
            scored.append((-score, _KIND_ORDER[item.hit.kind], item.hit.id, item.hit))
    scored.sort(key=lambda s: s[:3])
    return [s[3] for s in scored[:limit]]
