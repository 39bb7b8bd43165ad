"""Committed secrets, found by detect-secrets used as a library.

detect-secrets runs every plugin on every line through a dependency-injection layer, which costs
about 0.2 ms a line: tens of seconds on a medium repository.  So lines that no default plugin
could report are dropped first: a line is kept if it has a long token with digits and letters,
a known token prefix (AKIA, ghp_, xox, sk_live, eyJ, ...), a secret keyword, credentials in a
URL, a quoted hex string, a private-key header or an IP address.  Small configuration files (YAML,
INI, .env, TOML) are scanned whole because detect-secrets parses their structure.  The kept lines are
written, with a line map, to a mirror file of the same name, so detect-secrets' file-type and
file-name filters still apply; the detection itself is detect-secrets' own.
"""

from __future__ import annotations

import re
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from aipath.portfolio.audit.walker import FileEntry, RepoFiles


def _fingerprint(files: RepoFiles, entry: FileEntry) -> bool:
    """aipath's own scaffold fingerprint (hashes only): not a place a secret can hide."""
    from aipath.portfolio.fingerprint import FINGERPRINT_FILE, is_fingerprint

    if entry.rel != FINGERPRINT_FILE:
        return False
    try:
        return is_fingerprint((files.root / entry.rel).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return False


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
WHOLE_FILE_SUFFIXES = frozenset({"yaml", "yml", "ini", "cfg", "conf", "env", "toml", "properties"})
WHOLE_FILE_MAX = 32_000  # larger config files (data catalogues, not settings) get the filter
_TOKEN = re.compile(r"[A-Za-z0-9+/=_\-]{20,}")
# Substrings of the keyword plugin's deny list (and other key words), matched on lower case.
_KEYWORDS = (
    *("apikey", "api_key", "auth_key", "authkey", "service_key", "account_key", "accountkey"),
    *("db_key", "dbkey", "database_key", "privkey", "priv_key", "private_key", "private key"),
    *("client_key", "db_pass", "dbpass", "database_pass", "key_pass", "keypass", "passw"),
    *("pwd", "secret", "contrase", "token", "cloudant", "softlayer"),
)
# Literal prefixes of the token plugins (AWS, GitHub, Slack, Stripe, SendGrid, JWT, OpenAI, ...).
_PREFIXES = (
    *("AKIA", "ASIA", "ABIA", "ACCA", "A3T", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "xox"),
    *("sk_live", "rk_live", "SG.", "eyJ", "sk-", "pypi-", "npm_", "glpat-", "sq0", "AKC"),
    "hooks.slack.com",
)
_PLAIN_URL = re.compile(r"https?://[^\s'\"@]+")
_BASIC_AUTH = re.compile(r"://[^\s/@]+:[^\s/@]+@")
_QUOTED_HEX = re.compile(r"[\"'][0-9a-fA-F]{8,}[\"']")
_IP = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
_ARTIFACTORY = re.compile(r"AP[0-9A-F][a-zA-Z0-9]{8,}")


def could_hold_secret(line: str) -> bool:
    """False only for lines on which no default detect-secrets plugin can report anything."""
    low = line.lower()
    if any(word in low for word in _KEYWORDS) or any(p in line for p in _PREFIXES):
        return True
    if "://" in line and "@" in line and _BASIC_AUTH.search(line):
        return True
    if ('"' in line or "'" in line) and _QUOTED_HEX.search(line):
        return True
    if line.count(".") >= 3 and _IP.search(line):
        return True
    if "AP" in line and _ARTIFACTORY.search(line):
        return True
    if "://" in line:  # paths of credential-free URLs are long tokens, never secrets
        line = _PLAIN_URL.sub(" ", line)
    for match in _TOKEN.finditer(line):
        token = match.group(0)
        if any(c.isdigit() for c in token) and any(c.isalpha() for c in token):
            return True
    return False


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
    candidates = [
        e for e in files.entries if e.suffix not in SKIP_SUFFIXES and not _fingerprint(files, e)
    ]
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
            whole = entry.size <= WHOLE_FILE_MAX and (
                entry.suffix in WHOLE_FILE_SUFFIXES or entry.name.startswith(".env")
            )
            kept = [
                (number, line)
                for number, line in enumerate(text.splitlines(), start=1)
                if whole or could_hold_secret(line)
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
