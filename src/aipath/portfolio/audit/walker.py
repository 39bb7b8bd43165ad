"""A bounded, read-only view of the files in a repository, shared by every check.

An audit must finish on anything a learner points it at: a 50,000-file monorepo, a folder with a
symlink loop, a FIFO, files the process may not read.  So the walk never follows symlinks, skips
tool folders, stops after a file cap, reads at most a fixed number of bytes per file and in total,
and records what it could not read instead of raising.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

SKIP_DIRS: frozenset[str] = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        ".env",
        "env",
        "node_modules",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        ".nox",
        ".ipynb_checkpoints",
        "site-packages",
        ".eggs",
        "build",
        "dist",
    }
)

SNIFF_BYTES = 8192


@dataclass(frozen=True)
class Limits:
    """Caps that keep an audit bounded in time and memory whatever the repository holds."""

    max_files: int = 100_000
    max_text_bytes: int = 1_000_000
    max_total_read: int = 64_000_000
    walk_seconds: float = 20.0


@dataclass(frozen=True)
class FileEntry:
    """A regular file: its POSIX path relative to the root, its size, whether git tracks it."""

    rel: str
    size: int
    tracked: bool

    @property
    def suffix(self) -> str:
        name = self.rel.rsplit("/", 1)[-1]
        return name.rsplit(".", 1)[-1].lower() if "." in name.lstrip(".") else ""

    @property
    def name(self) -> str:
        return self.rel.rsplit("/", 1)[-1]


@dataclass
class RepoFiles:
    """The files of one repository plus a tolerant, capped reader for their contents."""

    root: Path
    limits: Limits = field(default_factory=Limits)
    entries: list[FileEntry] = field(default_factory=list)
    truncated: bool = False
    symlinks: list[str] = field(default_factory=list)
    special: list[str] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)
    bytes_read: int = 0
    _index: dict[str, FileEntry] = field(default_factory=dict)
    _text: dict[str, str | None] = field(default_factory=dict)
    _binary: dict[str, bool] = field(default_factory=dict)

    def add(self, entry: FileEntry) -> None:
        self.entries.append(entry)
        self._index[entry.rel] = entry

    def get(self, rel: str) -> FileEntry | None:
        return self._index.get(rel)

    def find(self, *names: str) -> FileEntry | None:
        """The first entry at the repository top level whose name matches one of ``names``."""
        wanted = {n.lower() for n in names}
        for entry in self.entries:
            if "/" not in entry.rel and entry.rel.lower() in wanted:
                return entry
        return None

    def with_suffix(self, *suffixes: str) -> list[FileEntry]:
        wanted = {s.lower().lstrip(".") for s in suffixes}
        return [e for e in self.entries if e.suffix in wanted]

    def read_bytes(self, rel: str, limit: int) -> bytes | None:
        """Up to ``limit`` bytes of a file, or None (and a note) when it cannot be read."""
        if self.bytes_read >= self.limits.max_total_read:
            self.unreadable.setdefault(rel, "read budget for this audit used up")
            return None
        path = self.root / rel
        try:
            # O_NONBLOCK so that a FIFO swapped in after the walk cannot hang the audit.
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
        except OSError as exc:
            self.unreadable[rel] = exc.strerror or type(exc).__name__
            return None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                self.unreadable[rel] = "not a regular file"
                return None
            chunks: list[bytes] = []
            remaining = min(limit, self.limits.max_total_read - self.bytes_read)
            while remaining > 0:
                chunk = os.read(fd, min(remaining, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
            data = b"".join(chunks)
        except OSError as exc:
            self.unreadable[rel] = exc.strerror or type(exc).__name__
            return None
        finally:
            os.close(fd)
        self.bytes_read += len(data)
        return data

    def is_binary(self, rel: str) -> bool:
        """True when the first bytes hold a NUL (git's own heuristic) or cannot be read."""
        if rel not in self._binary:
            head = self.read_bytes(rel, SNIFF_BYTES)
            self._binary[rel] = head is None or b"\x00" in head
        return self._binary[rel]

    def read_text(self, rel: str, limit: int | None = None) -> str | None:
        """The decoded text of a file, or None for binary, oversized or unreadable files."""
        if rel in self._text:
            return self._text[rel]
        cap = limit if limit is not None else self.limits.max_text_bytes
        entry = self._index.get(rel)
        text: str | None = None
        if entry is not None and entry.size > cap:
            self.unreadable.setdefault(rel, f"larger than {cap // 1000} kB: not read")
        else:
            data = self.read_bytes(rel, cap)
            if data is not None and b"\x00" not in data[:SNIFF_BYTES]:
                text = data.decode("utf-8", errors="replace")
        self._text[rel] = text
        return text


def _skipped_path(rel: str) -> bool:
    return any(part in SKIP_DIRS for part in rel.split("/")[:-1])


def from_listing(
    root: Path, tracked: list[str], untracked: list[str], limits: Limits | None = None
) -> RepoFiles:
    """Build the file view from git's own listing (respects .gitignore, sees only real files)."""
    repo = RepoFiles(root=root, limits=limits or Limits())
    deadline = time.monotonic() + repo.limits.walk_seconds
    seen: set[str] = set()
    for rels, is_tracked in ((tracked, True), (untracked, False)):
        for rel in rels:
            if rel in seen or (not is_tracked and _skipped_path(rel)):
                continue
            seen.add(rel)
            if len(repo.entries) >= repo.limits.max_files or time.monotonic() > deadline:
                repo.truncated = True
                return repo
            _add(repo, rel, is_tracked)
    return repo


def _add(repo: RepoFiles, rel: str, tracked: bool) -> None:
    try:
        info = os.lstat(repo.root / rel)
    except OSError as exc:
        if not isinstance(exc, FileNotFoundError):
            repo.unreadable[rel] = exc.strerror or type(exc).__name__
        return
    if stat.S_ISLNK(info.st_mode):
        repo.symlinks.append(rel)
    elif stat.S_ISREG(info.st_mode):
        repo.add(FileEntry(rel=rel, size=info.st_size, tracked=tracked))
    elif not stat.S_ISDIR(info.st_mode):
        repo.special.append(rel)


def walk(root: Path, limits: Limits | None = None) -> RepoFiles:
    """Walk a folder that git does not describe, without following any symlink."""
    repo = RepoFiles(root=root, limits=limits or Limits())
    deadline = time.monotonic() + repo.limits.walk_seconds
    stack: list[str] = [""]
    while stack:
        rel_dir = stack.pop()
        try:
            with os.scandir(root / rel_dir if rel_dir else root) as it:
                children = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            repo.unreadable[rel_dir or "."] = exc.strerror or type(exc).__name__
            continue
        subdirs: list[str] = []
        for child in children:
            rel = f"{rel_dir}/{child.name}" if rel_dir else child.name
            if len(repo.entries) >= repo.limits.max_files or time.monotonic() > deadline:
                repo.truncated = True
                return repo
            try:
                if child.is_symlink():
                    repo.symlinks.append(rel)
                elif child.is_dir(follow_symlinks=False):
                    if child.name not in SKIP_DIRS:
                        subdirs.append(rel)
                elif child.is_file(follow_symlinks=False):
                    size = child.stat(follow_symlinks=False).st_size
                    repo.add(FileEntry(rel=rel, size=size, tracked=False))
                else:
                    repo.special.append(rel)
            except OSError as exc:
                repo.unreadable[rel] = exc.strerror or type(exc).__name__
        stack.extend(reversed(subdirs))
    return repo
