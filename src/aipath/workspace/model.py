"""A learner's workspace: the folder they work in, and where aipath keeps its state inside it.

```
<root>/
  aipath.toml           the workspace marker and the learner's settings
  labs/p1/01-slug/      one folder per lab: README.md, exercise.py (the learner edits it)
  .aipath/              aipath's own state: progress.db, results/, backups/, worker.sock
```
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aipath.labs import Lab

CONFIG_FILE = "aipath.toml"
STATE_DIR = ".aipath"
LABS_DIR = "labs"
ENV_WORKSPACE = "AIPATH_WORKSPACE"


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def labs_dir(self) -> Path:
        return self.root / LABS_DIR

    @property
    def results_dir(self) -> Path:
        return self.state_dir / "results"

    @property
    def backups_dir(self) -> Path:
        return self.state_dir / "backups"

    @property
    def socket_path(self) -> Path:
        return self.state_dir / "worker.sock"

    @property
    def starters_path(self) -> Path:
        return self.state_dir / "starters.json"

    @property
    def db_url(self) -> str:
        from aipath.progress.location import default_db_url

        return os.environ.get("AIPATH_DATABASE_URL") or default_db_url(self.state_dir)

    def write_result(self, lab_id: str, text: str) -> Path:
        """Write ``results/<lab>.json`` atomically (watchers never read half a verdict)."""
        import tempfile

        self.results_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.results_dir, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        target = self.results_dir / f"{lab_id}.json"
        os.replace(tmp, target)
        return target

    def lab_dir(self, lab: Lab) -> Path:
        return self.labs_dir / lab.relative_dir

    def lab_file(self, lab: Lab) -> Path:
        return self.lab_dir(lab) / lab.manifest.exercise

    def lab_for_path(self, path: Path, labs: list[Lab]) -> Lab | None:
        """The lab whose folder contains ``path`` (for the watcher)."""
        try:
            relative = path.resolve().relative_to(self.labs_dir.resolve())
        except ValueError:
            return None
        for lab in labs:
            if relative.parts[:2] == lab.relative_dir.parts:
                return lab
        return None
