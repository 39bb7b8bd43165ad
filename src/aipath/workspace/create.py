"""Create a workspace, add labs that arrived later, and restore a starter — never losing work.

The rule everywhere: a file the learner may have edited is never overwritten without a backup.
The hash of every starter as placed is remembered in ``.aipath/starters.json``, which tells an
untouched starter (safe to refresh, and instantly "not attempted") from the learner's work.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from aipath.errors import AipathError
from aipath.gitutil import git_env
from aipath.labs import Catalogue, Lab
from aipath.workspace.config import ProfileConfig, WorkspaceConfig, write_config
from aipath.workspace.model import CONFIG_FILE, Workspace
from aipath.workspace.starters import file_hash, read_starters

GITIGNORE = """# aipath's own state (progress database, results, backups)
.aipath/
__pycache__/
*.pyc
.ipynb_checkpoints/
"""


def _write_starters(ws: Workspace, starters: dict[str, str]) -> None:
    tmp = ws.starters_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(starters, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(ws.starters_path)


def is_untouched(ws: Workspace, lab: Lab) -> bool:
    """True when the learner's file is byte-for-byte the starter aipath placed."""
    path = ws.lab_file(lab)
    try:
        return file_hash(path) == read_starters(ws).get(lab.id) == file_hash(lab.starter)
    except OSError:
        return False


def run_setup(lab: Lab, workdir: Path) -> None:
    """Run a lab's ``prepare(workdir)`` hook (e.g. generate a practice git repository)."""
    if not lab.manifest.setup:
        return
    path = lab.source_dir / lab.manifest.setup
    spec = importlib.util.spec_from_file_location(f"aipath_setup_{lab.id.replace('-', '_')}", path)
    if spec is None or spec.loader is None:
        raise AipathError(f"lab {lab.id}: cannot load its setup file {path.name}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    prepare = getattr(module, "prepare", None)
    if not callable(prepare):
        raise AipathError(f"lab {lab.id}: {path.name} defines no prepare(workdir) function")
    prepare(workdir)


def place_lab(lab: Lab, dest: Path, *, exercise_from: Path | None = None) -> None:
    """Copy a lab's learner-facing files into ``dest`` and run its setup hook."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(lab.readme, dest / "README.md")
    shutil.copy2(exercise_from or lab.starter, dest / lab.manifest.exercise)
    for name in lab.manifest.workspace_files:
        source = lab.source_dir / name
        if source.is_dir():
            shutil.copytree(source, dest / name, dirs_exist_ok=True)
        else:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    run_setup(lab, dest)


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=aipath", "-c", "user.email=aipath@localhost", *args],
        cwd=root,
        env=git_env(),
        check=True,
        capture_output=True,
        timeout=60,
    )


@dataclass
class InitReport:
    workspace: Workspace
    created: bool
    labs_added: list[str] = field(default_factory=list)
    git: bool = False


def init_workspace(
    root: Path, catalogue: Catalogue, profile: ProfileConfig | None = None
) -> InitReport:
    """Create (or complete) a workspace at ``root``: labs, config, state, store, git repository."""
    root = root.expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise AipathError(f"{root} exists and is not a folder")
    existed = (root / CONFIG_FILE).is_file()
    if root.exists() and not existed and any(root.iterdir()):
        raise AipathError(
            f"{root} is not empty and is not an aipath workspace",
            hint="choose an empty or new folder",
        )
    root.mkdir(parents=True, exist_ok=True)
    ws = Workspace(root)
    ws.state_dir.mkdir(exist_ok=True)
    ws.results_dir.mkdir(exist_ok=True)
    if not existed:
        write_config(ws.config_path, WorkspaceConfig(profile=profile or ProfileConfig()))
        (root / ".gitignore").write_text(GITIGNORE, encoding="utf-8")
    report = InitReport(workspace=ws, created=not existed)
    report.labs_added = update_workspace(ws, catalogue)
    _open_store_with_profile(ws, profile if not existed else None)
    if not existed and shutil.which("git") and not (root / ".git").exists():
        try:
            _git(root, "init", "-q", "-b", "main")
            _git(root, "add", "-A")
            _git(root, "commit", "-q", "-m", "Start the aipath roadmap")
            report.git = True
        except (subprocess.SubprocessError, OSError):
            report.git = False
    return report


def _open_store_with_profile(ws: Workspace, profile: ProfileConfig | None) -> None:
    from aipath.progress import Profile, ProgressStore

    store = ProgressStore.open(ws.db_url)
    try:
        if profile is not None or store.get_profile() is None:
            p = profile or ProfileConfig()
            store.set_profile(
                Profile(
                    start=p.start,
                    hours_per_week=p.hours_per_week,
                    background=p.background,
                    track=p.track,
                )
            )
    finally:
        store.close()


def update_workspace(ws: Workspace, catalogue: Catalogue) -> list[str]:
    """Add labs missing from the workspace; never touch a file that is already there."""
    starters = read_starters(ws)
    added: list[str] = []
    for lab in catalogue:
        target = ws.lab_file(lab)
        if target.exists():
            starters.setdefault(lab.id, file_hash(lab.starter))
            continue
        lab_dir = ws.lab_dir(lab)
        if lab_dir.exists() and any(lab_dir.iterdir()):
            # The folder is there but the exercise was deleted or renamed: leave it to `reset`.
            continue
        place_lab(lab, lab_dir)
        starters[lab.id] = file_hash(lab.starter)
        added.append(lab.id)
    _write_starters(ws, starters)
    return added


def backup_file(ws: Workspace, lab: Lab) -> Path | None:
    """Copy the learner's current file to ``.aipath/backups/<lab>/<time>-<name>``.

    The lab's ``workspace_files`` (a folder of manifests the learner edits, say) are copied next
    to it under the same time stamp: a reset must not lose work done outside the exercise file.
    """
    current = ws.lab_file(lab)
    lab_dir = ws.lab_dir(lab)
    extra = [lab_dir / name for name in lab.manifest.workspace_files if (lab_dir / name).exists()]
    if not current.exists() and not extra:
        return None
    folder = ws.backups_dir / lab.id
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    backup = folder / f"{stamp}-{current.name}"
    if current.exists():
        shutil.copy2(current, backup)
    for path in extra:
        target = folder / f"{stamp}-{path.relative_to(lab_dir).as_posix().replace('/', '_')}"
        if path.is_dir():
            shutil.copytree(path, target, symlinks=True)
        else:
            shutil.copy2(path, target)
    return backup if current.exists() else folder


def reset_lab(ws: Workspace, lab: Lab) -> Path | None:
    """Restore the starter, keeping a backup of the learner's file; returns the backup path."""
    backup = backup_file(ws, lab)
    lab_dir = ws.lab_dir(lab)
    for name in lab.manifest.workspace_files:  # the starter's copy, not a merge with the old one
        path = lab_dir / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
    place_lab(lab, lab_dir)
    starters = read_starters(ws)
    starters[lab.id] = file_hash(lab.starter)
    _write_starters(ws, starters)
    return backup
