"""The watch loop's event sources: file saves (watchfiles, or polling as a fallback) and keys.

Both feed one queue so the loop that renders verdicts is single-threaded and simple.  When the
native watcher cannot start (inotify limits, exotic file systems) the loop says so and polls
modification times instead — slower, but it never leaves a learner without feedback.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Saved:
    paths: tuple[Path, ...]


@dataclass(frozen=True)
class Key:
    char: str


@dataclass(frozen=True)
class WatcherFailed:
    reason: str


Event = Saved | Key | WatcherFailed


def _interesting(path: Path) -> bool:
    return path.suffix in {".py", ".ipynb", ".md", ".toml"} and "__pycache__" not in path.parts


def _native(root: Path, out: queue.Queue[Event], stop: threading.Event) -> None:
    try:
        from watchfiles import watch

        for changes in watch(root, stop_event=stop, debounce=150, step=30, raise_interrupt=False):
            paths = tuple(Path(p) for _change, p in changes if _interesting(Path(p)))
            if paths:
                out.put(Saved(paths))
    except Exception as exc:  # e.g. inotify watch limit reached
        if not stop.is_set():
            out.put(WatcherFailed(f"{type(exc).__name__}: {exc}"))


def _snapshot(root: Path) -> dict[Path, float]:
    stamps: dict[Path, float] = {}
    for path in root.rglob("*"):
        if _interesting(path):
            with contextlib.suppress(OSError):
                stamps[path] = path.stat().st_mtime
    return stamps


def _polling(root: Path, out: queue.Queue[Event], stop: threading.Event, interval: float) -> None:
    before = _snapshot(root)
    while not stop.wait(interval):
        now = _snapshot(root)
        changed = tuple(p for p, t in now.items() if before.get(p) != t)
        if changed:
            out.put(Saved(changed))
        before = now


def _keys(out: queue.Queue[Event], stop: threading.Event) -> None:
    if not sys.stdin.isatty():
        return
    import termios
    import tty

    fd = sys.stdin.fileno()
    old = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        import select

        while not stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                char = os.read(fd, 1).decode(errors="ignore")
                if char:
                    out.put(Key(char.lower()))
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)


class EventSource:
    """Start the watcher (or poller) and the key reader; iterate over what happens."""

    def __init__(self, root: Path, *, manual: bool = False, poll_interval: float = 1.0) -> None:
        self.root = root
        self.manual = manual
        self.poll_interval = poll_interval
        self.queue: queue.Queue[Event] = queue.Queue()
        self.stop_event = threading.Event()
        self._threads: list[threading.Thread] = []

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def start(self) -> None:
        if self.manual:
            self._spawn(_polling, self.root, self.queue, self.stop_event, self.poll_interval)
        else:
            self._spawn(_native, self.root, self.queue, self.stop_event)
        self._spawn(_keys, self.queue, self.stop_event)

    def fall_back_to_polling(self) -> None:
        self.manual = True
        self._spawn(_polling, self.root, self.queue, self.stop_event, self.poll_interval)

    def __iter__(self) -> Iterator[Event]:
        while not self.stop_event.is_set():
            try:
                yield self.queue.get(timeout=0.5)
            except queue.Empty:
                continue

    def close(self) -> None:
        self.stop_event.set()
        for thread in self._threads:
            thread.join(timeout=1.0)
        time.sleep(0)
