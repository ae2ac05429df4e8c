"""Password hashing with bcrypt.

bcrypt only reads the first 72 bytes of its input (and bcrypt >= 5 refuses longer input), while
the password policy allows 128 characters, up to 512 bytes of UTF-8. Every password is therefore
pre-hashed with SHA-256 and base64-encoded (44 bytes, no NUL) before bcrypt sees it, so every
character counts and no valid password is refused.

These functions are slow on purpose (about 0.25 s at 12 rounds): call them only from sync
endpoints, which FastAPI runs in its thread pool, never on the event loop.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

import bcrypt


def _prehash(password: str) -> bytes:
    return base64.b64encode(hashlib.sha256(password.encode("utf-8")).digest())


def hash_password(password: str, rounds: int) -> str:
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds=rounds)).decode("ascii")


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(_prehash(password), password_hash.encode("ascii"))
    except ValueError:  # a malformed stored hash never matches
        return False


def hash_cost(password_hash: str) -> int:
    """The cost factor (log2 rounds) recorded in a bcrypt hash such as `$2b$12$...`."""
    return int(password_hash.split("$")[2])


@lru_cache(maxsize=4)
def _dummy_hash(rounds: int) -> str:
    return hash_password("not-a-real-password-only-for-timing", rounds)


def warm_up(rounds: int) -> None:
    """Make the dummy hash now (at start-up) so the first unknown-email login is not slower."""
    _dummy_hash(rounds)


def burn_verification_time(password: str, rounds: int) -> None:
    """Spend as long as a real check, so an unknown email answers as slowly as a known one."""
    verify_password(password, _dummy_hash(rounds))
