"""Helpers shared by the portfolio tests: git with a fixed identity, hand-built repositories."""

from __future__ import annotations

import json
import random
import string
import subprocess
from pathlib import Path

import pytest

from aipath.portfolio.kinds import KINDS

# Each kind's scaffold is shared by the tests of that kind; the group keeps them on one worker.
KIND_PARAMS = [
    pytest.param(kind, marks=pytest.mark.xdist_group(f"portfolio-{kind}"), id=kind)
    for kind in KINDS
]

IDENTITY = ("-c", "user.name=Test Author", "-c", "user.email=test@example.com")


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *IDENTITY, "-c", "commit.gpgsign=false", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def commit_all(repo: Path, message: str) -> None:
    if not (repo / ".git").exists():
        git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", message)


def fake_aws_key() -> tuple[str, str]:
    """An AWS-shaped key pair built at run time, so no key-like literal sits in this file."""
    rng = random.Random(7)
    key_id = "AKIA" + "".join(rng.choice(string.ascii_uppercase + "234567") for _ in range(16))
    secret = "".join(rng.choice(string.ascii_letters + string.digits + "/+") for _ in range(40))
    return key_id, secret


def notebook_with_outputs() -> str:
    cells = [
        {
            "cell_type": "code",
            "execution_count": 1,
            "metadata": {},
            "outputs": [{"output_type": "stream", "name": "stdout", "text": ["891 rows\n"]}],
            "source": ["import pandas as pd\n", "df = pd.read_csv('data/train.csv')\n"],
        },
        {
            "cell_type": "code",
            "execution_count": 2,
            "metadata": {},
            "outputs": [
                {
                    "output_type": "execute_result",
                    "execution_count": 2,
                    "data": {"text/plain": ["0.78"]},
                    "metadata": {},
                }
            ],
            "source": ["(df.Survived == 0).mean()"],
        },
    ]
    notebook = {
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(notebook, indent=1)


def build_poor_repo(root: Path) -> Path:
    """Everything a reviewer dislikes: outputs in a notebook, a key, 20 MB of CSV, no README."""
    root.mkdir(parents=True)
    (root / "analysis.ipynb").write_text(notebook_with_outputs(), encoding="utf-8")
    key_id, secret = fake_aws_key()
    (root / "config.py").write_text(
        f'AWS_ACCESS_KEY_ID = "{key_id}"\nAWS_SECRET_ACCESS_KEY = "{secret}"\n', encoding="utf-8"
    )
    data = root / "data"
    data.mkdir()
    row = "1,0,3,male,22.0,1,0,7.25,S,some passenger name padded to make rows longer\n"
    chunk = row * 10_000
    with (data / "train.csv").open("w", encoding="utf-8") as handle:
        handle.write("id,survived,pclass,sex,age,sibsp,parch,fare,embarked,name\n")
        while handle.tell() < 20_000_000:
            handle.write(chunk)
    commit_all(root, "stuff")
    return root
