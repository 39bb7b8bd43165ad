"""Committed secrets, found by detect-secrets used as a library.

detect-secrets runs every plugin on every line through a dependency-injection layer, which costs
about 0.2 ms a line: a medium repository would take many seconds.  Since every default plugin
needs either a long token, a secret-ish keyword or credentials in a URL on the line, lines with
none of those cannot produce a finding and are dropped before the scan; the remaining lines are
written, in order and with a line map, to a mirror file of the same name so detect-secrets' file
type and file name filters still apply.  The detection itself is detect-secrets' own.
"""

from __future__ import annotations

import re
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from aipath.portfolio.audit.walker import FileEntry, RepoFiles

SCAN_SECONDS = 20.0
MAX_SCAN_FILES = 5_000
SKIP_SUFFIXES = frozenset(
    {
        *("png", "jpg", "jpeg", "gif", "bmp", "ico", "svg", "pdf", "woff", "woff2", "ttf"),
        *("eot", "mp3", "mp4", "wav", "zip", "gz", "tar", "bz2", "xz", "7z", "whl", "so"),
        *("dylib", "dll", "exe", "pyc", "parquet", "feather", "pkl", "pickle", "joblib"),
        *("h5", "npy", "npz", "onnx", "pt", "pth"),
    }
)
PRIORITY = ("env", "py", "yml", "yaml", "toml", "ini", "cfg", "conf", "json", "sh", "ipynb")
SENSITIVE_NAMES = re.compile(
    r"(^|/)(\.env(\.(?!example|sample|template|dist)[\w.-]+)?|id_(rsa|dsa|ecdsa|ed25519)|"
    r"[^/]+\.(pem|key|p12|pfx|keystore|jks)|credentials\.json|service[-_]account[^/]*\.json|"
    r"\.pypirc|\.netrc)$"
)
# A line can only yield a default-plugin finding if it has one of these (see module docstring).
_CANDIDATE = re.compile(
    r"[A-Za-z0-9+/=_\-.~]{16,}"
    r"|(?i:pass|pwd|secret|key|token|auth|cred|contrase|private|bearer)"
    r"|://[^\s/@]+:[^\s/@]+@"
    r"|\bAKC|\bAP[0-9A-F]"
)
_LOCK = threading.Lock()  # detect-secrets keeps its settings in a process-wide singleton


@dataclass
class SecretHit:
    file: str
    line: int
    kind: str


@dataclass
class SecretScan:
    hits: list[SecretHit] = field(default_factory=list)
    sensitive_files: list[str] = field(default_factory=list)
    scanned: int = 0
    candidates: int = 0
    incomplete: str | None = None
    error: str | None = None


def _order(entries: list[FileEntry]) -> list[FileEntry]:
    def rank(entry: FileEntry) -> tuple[int, int]:
        suffix = entry.suffix or entry.name.lstrip(".")
        return (PRIORITY.index(suffix) if suffix in PRIORITY else len(PRIORITY), entry.size)

    return sorted(entries, key=rank)


def scan_secrets(files: RepoFiles, *, seconds: float = SCAN_SECONDS) -> SecretScan:
    result = SecretScan()
    result.sensitive_files = [e.rel for e in files.entries if SENSITIVE_NAMES.search(e.rel)]
    try:
        from detect_secrets.core.scan import scan_file
        from detect_secrets.settings import default_settings
    except ImportError:
        result.error = "detect-secrets is not installed (pip install detect-secrets)"
        return result
    candidates = [e for e in files.entries if e.suffix not in SKIP_SUFFIXES]
    result.candidates = len(candidates)
    deadline = time.monotonic() + seconds
    with _LOCK, tempfile.TemporaryDirectory(prefix="aipath-secrets-") as tmp, default_settings():
        for entry in _order(candidates):
            if result.scanned >= MAX_SCAN_FILES or time.monotonic() > deadline:
                result.incomplete = (
                    f"scanned {result.scanned:,} of {len(candidates):,} text files "
                    f"(stopped at the {'file cap' if result.scanned >= MAX_SCAN_FILES else 'time limit'})"
                )
                break
            text = files.read_text(entry.rel)
            if text is None:
                continue
            result.scanned += 1
            kept = [
                (number, line)
                for number, line in enumerate(text.splitlines(), start=1)
                if _CANDIDATE.search(line)
            ]
            if not kept:
                continue
            mirror = Path(tmp) / entry.rel
            try:
                mirror.parent.mkdir(parents=True, exist_ok=True)
                mirror.write_text("\n".join(line for _, line in kept) + "\n", encoding="utf-8")
            except OSError:
                continue
            try:
                found = list(scan_file(str(mirror)))
            except Exception:  # a detect-secrets plugin bug must not end the audit
                continue
            finally:
                mirror.unlink(missing_ok=True)
            seen: set[tuple[int, str]] = set()
            for secret in found:
                index = (secret.line_number or 1) - 1
                original = kept[index][0] if 0 <= index < len(kept) else secret.line_number or 0
                if (original, secret.type) not in seen:
                    seen.add((original, secret.type))
                    result.hits.append(SecretHit(entry.rel, original, secret.type))
    return result
