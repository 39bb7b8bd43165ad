"""Per-user tokens: 32 random bytes shown once, only their SHA-256 kept.

A stolen database then gives no usable token.  SHA-256 without salt is enough here (unlike for
passwords): the token has 256 bits of entropy, nothing to guess.  The hash is looked up by an
index and then compared again with :func:`hmac.compare_digest`, so the comparison's time says
nothing about how much of a guess was right.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

TOKEN_BYTES: Final = 32
PREFIX: Final = "aip_"


def new_token() -> str:
    """A fresh token to hand to one person (URL-safe, so it pastes into a shell)."""
    return PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def matches(token: str, stored_hash: str) -> bool:
    """Whether ``token`` is the one whose hash is stored, in constant time."""
    return hmac.compare_digest(token_hash(token), stored_hash)
