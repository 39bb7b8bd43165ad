"""Generate the practice repository of lab p1-git: `practice-repo/` next to the exercise.

The story: a small churn-model project. `main` and a teammate's branch `feature/tenure` both
added a feature to the same list, so merging them conflicts. The working copy also holds a data
file and two model files that are not committed yet, and a notebook that was committed with its
outputs. Commits carry fixed dates and authors, so the repository is the same on every machine.

An existing `practice-repo/` is never deleted: it is renamed to `practice-repo.old-<n>/` (that is
what `aipath reset p1-git` leaves behind), and a fresh one is generated.
"""

from __future__ import annotations

import base64
import json
import random
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

from aipath.checks.git import run_git

REPO = "practice-repo"
STATE = "aipath-practice.json"  # inside .git/: the hashes the checks compare against
IDENTITY = {
    "ada": ("Ada Lovelace", "ada@example.com"),
    "grace": ("Grace Hopper", "grace@example.com"),
}

FEATURES_BASE = '''"""Columns the churn model is trained on."""

NUMERIC = [
    "age",
    "monthly_charges",
]

CATEGORICAL = [
    "plan",
    "region",
]

TARGET = "churned"


def all_columns() -> list[str]:
    return [*NUMERIC, *CATEGORICAL]
'''

TRAIN = '''"""Train the churn model (a placeholder: the lab is about the repository, not the model)."""

import csv
from pathlib import Path

from features import NUMERIC, TARGET


def load(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def churn_rate(rows: list[dict[str, str]]) -> float:
    return sum(row[TARGET] == "1" for row in rows) / len(rows)


if __name__ == "__main__":
    rows = load(Path(__file__).parent.parent / "data" / "customers.csv")
    print(f"{len(rows)} customers, churn rate {churn_rate(rows):.1%}, features {NUMERIC}")
'''

TENURE = '''"""Tenure buckets: short customer histories churn differently from long ones."""


def tenure_bucket(months: int) -> str:
    if months < 6:
        return "new"
    if months < 24:
        return "settled"
    return "loyal"
'''

README = """# churn-model

Predict which customers will cancel their subscription next month.

- `src/features.py`: the columns the model uses
- `src/train.py`: training entry point
- `notebooks/explore.ipynb`: first look at the data
- `data/`: customer extracts (not for version control)
- `models/`: trained model files
"""


def _git(repo: Path, *args: str, who: str = "ada", when: int = 0) -> str:
    name, email = IDENTITY[who]
    stamp = f"{1767261600 + when * 3600} +0000"  # 2026-01-01 10:00 UTC plus `when` hours
    result = run_git(
        repo,
        *args,
        config=(
            f"user.name={name}",
            f"user.email={email}",
            "commit.gpgsign=false",
            "core.autocrlf=false",
            "core.hooksPath=/dev/null",
            "init.defaultBranch=main",
        ),
        env={"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp, "GIT_CONFIG_NOSYSTEM": "1"},
        check=True,
        timeout=60,
    )
    return result.stdout.strip()


def _customers(rng: random.Random, count: int = 300) -> str:
    lines = ["customer_id,age,monthly_charges,support_calls,tenure_months,plan,region,churned"]
    for index in range(count):
        tenure = rng.randint(0, 72)
        calls = rng.choice([0, 0, 0, 1, 1, 2, 3, 5])
        charges = round(rng.uniform(15, 120), 2)
        risk = 0.35 - tenure / 300 + calls / 20 + (charges - 60) / 600
        churned = int(rng.random() < max(0.02, min(0.9, risk)))
        lines.append(
            f"C{index:04d},{rng.randint(18, 80)},{charges},{calls},{tenure},"
            f"{rng.choice(['basic', 'plus', 'pro'])},{rng.choice(['north', 'south', 'east', 'west'])},"
            f"{churned}"
        )
    return "\n".join(lines) + "\n"


def _png(width: int = 24, height: int = 12) -> str:
    """A tiny real PNG bar chart, base64-encoded as notebooks store images."""
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            filled = height - y <= (x * 7) % height + 1
            row += bytes([40, 90, 160] if filled else [255, 255, 255])
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
    data += chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b"")
    return base64.b64encode(data).decode("ascii")


def _notebook(customers: str) -> str:
    rows = [line.split(",") for line in customers.splitlines()[1:]]
    rate = sum(row[7] == "1" for row in rows) / len(rows)
    calls = [int(row[3]) for row in rows]
    histogram = {n: calls.count(n) for n in sorted(set(calls))}

    def code(source: str, count: int, outputs: list[dict[str, object]]) -> dict[str, object]:
        return {
            "cell_type": "code",
            "execution_count": count,
            "metadata": {},
            "outputs": outputs,
            "source": source.splitlines(keepends=True),
        }

    def markdown(source: str) -> dict[str, object]:
        return {"cell_type": "markdown", "metadata": {}, "source": source.splitlines(keepends=True)}

    cells = [
        markdown("# Churn: a first look\n\nHow many customers leave, and who are they?"),
        code("import csv\nfrom pathlib import Path", 1, []),
        code(
            'rows = list(csv.DictReader(Path("../data/customers.csv").open()))\nlen(rows)',
            2,
            [
                {
                    "output_type": "execute_result",
                    "execution_count": 2,
                    "metadata": {},
                    "data": {"text/plain": [str(len(rows))]},
                }
            ],
        ),
        code(
            'churned = sum(row["churned"] == "1" for row in rows)\n'
            'print(f"churn rate: {churned / len(rows):.1%}")',
            3,
            [{"output_type": "stream", "name": "stdout", "text": [f"churn rate: {rate:.1%}\n"]}],
        ),
        markdown("## Support calls\n\nCustomers who call support often look more likely to leave."),
        code(
            'calls = [int(row["support_calls"]) for row in rows]\n'
            "histogram = {n: calls.count(n) for n in sorted(set(calls))}\nhistogram",
            4,
            [
                {
                    "output_type": "execute_result",
                    "execution_count": 4,
                    "metadata": {},
                    "data": {"text/plain": [repr(histogram)]},
                }
            ],
        ),
        code(
            "import matplotlib.pyplot as plt\n\nplt.bar(list(histogram), list(histogram.values()))",
            5,
            [
                {
                    "output_type": "execute_result",
                    "execution_count": 5,
                    "metadata": {},
                    "data": {"text/plain": [f"<BarContainer object of {len(histogram)} artists>"]},
                },
                {
                    "output_type": "display_data",
                    "metadata": {},
                    "data": {
                        "image/png": _png(),
                        "text/plain": ["<Figure size 640x480 with 1 Axes>"],
                    },
                },
            ],
        ),
    ]
    notebook = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python", "version": "3.11.7"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    for index, cell in enumerate(cells):
        cell["id"] = f"cell-{index}"
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _move_aside(path: Path) -> None:
    number = 1
    while (target := path.with_name(f"{path.name}.old-{number}")).exists():
        number += 1
    path.rename(target)


def prepare(workdir: Path) -> None:
    """Generate the repository; a failure is written down for the checks, never raised, so
    that it cannot stop a whole workspace from being created."""
    repo = workdir / REPO
    error = workdir / f"{REPO}.error.txt"
    error.unlink(missing_ok=True)
    if repo.exists():
        _move_aside(repo)
    # The workspace itself is a git repository: keep the nested practice repositories out of it.
    (workdir / ".gitignore").write_text(
        f"/{REPO}/\n/{REPO}.old-*/\n/{REPO}.error.txt\n", encoding="utf-8"
    )
    if shutil.which("git") is None:
        error.write_text(
            "git is not installed: install it, then run `aipath reset p1-git`\n", encoding="utf-8"
        )
        return
    try:
        _generate(repo)
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", None) or exc
        error.write_text(
            f"git failed while generating it: {detail}\nFix the cause, then run "
            "`aipath reset p1-git`\n",
            encoding="utf-8",
        )


def _generate(repo: Path) -> None:
    for folder in ("src", "notebooks", "data", "models"):
        (repo / folder).mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")

    (repo / "README.md").write_text(README, encoding="utf-8")
    (repo / "src" / "features.py").write_text(FEATURES_BASE, encoding="utf-8")
    (repo / "src" / "train.py").write_text(TRAIN, encoding="utf-8")
    rng = random.Random(12)
    customers = _customers(rng)
    (repo / "notebooks" / "explore.ipynb").write_text(_notebook(customers), encoding="utf-8")
    _git(repo, "add", "README.md", "src", "notebooks")
    _git(repo, "commit", "-q", "-m", "Start the churn model", when=0)
    base = _git(repo, "rev-parse", "HEAD")

    _git(repo, "switch", "-q", "-c", "feature/tenure")
    features = FEATURES_BASE.replace(
        '    "monthly_charges",\n', '    "monthly_charges",\n    "tenure_months",\n'
    )
    (repo / "src" / "features.py").write_text(features, encoding="utf-8")
    (repo / "src" / "tenure.py").write_text(TENURE, encoding="utf-8")
    _git(repo, "add", "src")
    _git(repo, "commit", "-q", "-m", "Add tenure_months and tenure buckets", who="grace", when=5)
    feature = _git(repo, "rev-parse", "HEAD")

    _git(repo, "switch", "-q", "main")
    features = FEATURES_BASE.replace(
        '    "monthly_charges",\n', '    "monthly_charges",\n    "support_calls",\n'
    )
    (repo / "src" / "features.py").write_text(features, encoding="utf-8")
    _git(repo, "add", "src/features.py")
    _git(repo, "commit", "-q", "-m", "Add support_calls", when=7)
    main = _git(repo, "rev-parse", "HEAD")
    notebook_blob = _git(repo, "rev-parse", "HEAD:notebooks/explore.ipynb")

    # Not committed: what the learner must keep out of history or route through LFS.
    (repo / "data" / "customers.csv").write_text(customers, encoding="utf-8")
    (repo / "models" / "churn.pt").write_bytes(rng.randbytes(96 * 1024))
    (repo / "models" / "churn.onnx").write_bytes(rng.randbytes(32 * 1024))

    state = {"base": base, "main": main, "feature": feature, "notebook_blob": notebook_blob}
    (repo / ".git" / STATE).write_text(json.dumps(state, indent=1), encoding="utf-8")
