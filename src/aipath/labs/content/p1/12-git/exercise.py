"""Two small tools for a healthy repository, and a command line to run them (lab p1-git).

Most of this lab happens in `practice-repo/` with git itself (see the README). The two functions
below are the Python part: a guard that finds unresolved merge conflicts, and an output stripper
for notebooks. Run them from this folder:

    python exercise.py conflicts practice-repo/src/features.py
    python exercise.py strip practice-repo/notebooks/explore.ipynb
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def conflict_blocks(text: str) -> list[tuple[int, int]]:
    """The unresolved merge conflicts in `text`, as (first line, last line), 1-based, inclusive.

    A conflict starts at a line beginning with '<<<<<<<' and ends at the next line beginning with
    '>>>>>>>'; a start with no end runs to the last line. Lines beginning with '=======' or
    '>>>>>>>' outside a conflict start nothing. Markers count only at the very start of a line.
    Split lines with str.splitlines(), so '\\r\\n' line endings work too.

    >>> conflict_blocks("a\\n<<<<<<< HEAD\\nb\\n=======\\nc\\n>>>>>>> feature/tenure\\nd\\n")
    [(2, 6)]
    >>> conflict_blocks("x = 1\\n")
    []
    >>> conflict_blocks("<<<<<<< HEAD\\nleft\\n")
    [(1, 2)]
    """
    # TODO (task 1)
    raise NotImplementedError


def strip_outputs(notebook: dict[str, Any]) -> dict[str, Any]:
    """A copy of `notebook` (nbformat 4, as json.load returns it) without outputs.

    Every code cell gets "outputs": [] and "execution_count": None. Markdown and raw cells, cell
    sources and ids, and all metadata stay exactly as they are. `notebook` itself is not modified.

    >>> nb = {"cells": [{"cell_type": "code", "execution_count": 3, "metadata": {},
    ...        "outputs": [{"output_type": "stream", "name": "stdout", "text": ["hi\\n"]}],
    ...        "source": ["print('hi')"]}],
    ...       "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    >>> clean = strip_outputs(nb)
    >>> clean["cells"][0]["outputs"], clean["cells"][0]["execution_count"]
    ([], None)
    >>> nb["cells"][0]["execution_count"]
    3
    """
    # TODO (task 3)
    raise NotImplementedError


def main(argv: list[str] | None = None) -> int:
    """Usage: python exercise.py conflicts FILE...  |  python exercise.py strip NOTEBOOK..."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) >= 2 and args[0] == "conflicts":
        found = 0
        for name in args[1:]:
            for first, last in conflict_blocks(Path(name).read_text(encoding="utf-8")):
                print(f"{name}:{first}-{last}: unresolved merge conflict")
                found += 1
        print(f"{found} unresolved conflict(s)")
        return 1 if found else 0
    if len(args) >= 2 and args[0] == "strip":
        for name in args[1:]:
            path = Path(name)
            notebook = json.loads(path.read_text(encoding="utf-8"))
            clean = strip_outputs(notebook)
            text = json.dumps(clean, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
            path.write_text(text, encoding="utf-8")
            print(f"stripped {name}")
        return 0
    print(main.__doc__)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
