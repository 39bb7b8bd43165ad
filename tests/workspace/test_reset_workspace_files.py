"""`aipath reset` keeps the learner's work outside the exercise file too, and restores it fresh."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURE_LABS = Path(__file__).parents[1] / "fixtures" / "labs"


def test_reset_backs_up_and_restores_workspace_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    labs = tmp_path / "labs"
    shutil.copytree(FIXTURE_LABS, labs)
    lab_dir = labs / "p1" / "01-tiny"
    (lab_dir / "config").mkdir()
    (lab_dir / "config" / "app.yaml").write_text("# starter\n")
    manifest = lab_dir / "lab.toml"
    manifest.write_text(
        manifest.read_text().replace("\nhints", '\nworkspace_files = ["config"]\nhints', 1)
    )
    monkeypatch.setenv("AIPATH_LABS_DIR", str(labs))
    monkeypatch.delenv("AIPATH_WORKSPACE", raising=False)
    monkeypatch.delenv("AIPATH_DATABASE_URL", raising=False)

    from aipath.labs import load_catalogue
    from aipath.workspace.create import init_workspace, reset_lab

    catalogue = load_catalogue()
    lab = catalogue.get("p1-tiny")
    assert lab.manifest.workspace_files == ["config"]
    report = init_workspace(tmp_path / "ws", catalogue)
    ws = report.workspace
    placed = ws.lab_dir(lab) / "config"
    (placed / "app.yaml").write_text("kind: Deployment  # my work\n")
    (placed / "extra.yaml").write_text("kind: Service  # mine too\n")

    reset_lab(ws, lab)

    assert sorted(p.name for p in placed.iterdir()) == ["app.yaml"]  # the starter, not a merge
    assert (placed / "app.yaml").read_text() == "# starter\n"
    (saved,) = [p for p in (ws.backups_dir / "p1-tiny").iterdir() if p.is_dir()]
    assert saved.name.endswith("-config")
    assert (saved / "app.yaml").read_text() == "kind: Deployment  # my work\n"
    assert (saved / "extra.yaml").read_text() == "kind: Service  # mine too\n"
