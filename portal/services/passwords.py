"""Password hashing (argon2id) and the password policy: 8 to 128 characters, not a common one."""

import gzip
from functools import cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l

from portal.services.errors import ValidationFailed

MIN_LENGTH = 8
MAX_LENGTH = 128


@cache
def _hasher_for(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


def hasher() -> PasswordHasher:
    """The argon2id hasher with the parameters of the current app's config."""
    cfg = current_app.config
    return _hasher_for(
        cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_COST_KIB"], cfg["ARGON2_PARALLELISM"]
    )


@cache
def _dummy_hash(ph: PasswordHasher) -> str:
    return ph.hash("dummy password used to equalise timing")


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password; with no hash (unknown account) spend the same time and answer False."""
    ph = hasher()
    try:
        return ph.verify(password_hash or _dummy_hash(ph), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return hasher().check_needs_rehash(password_hash)


@cache
def common_passwords() -> frozenset[str]:
    """The 20,000 most common passwords (list shipped by Django, BSD licence)."""
    data = resources.files("portal").joinpath("data/common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode().split())


def check_password_policy(password: str, field: str = "password") -> None:
    """Length 8..128, accepted verbatim (no composition rules), refused if common."""
    if len(password) < MIN_LENGTH:
        raise ValidationFailed(_l("Use at least 8 characters."), field)
    if len(password) > MAX_LENGTH:
        raise ValidationFailed(_l("Use at most 128 characters."), field)
    if "\x00" in password:
        raise ValidationFailed(_l("The password contains a character that is not allowed."), field)
    if password.lower().strip() in common_passwords():
        raise ValidationFailed(
            _l("This password is too common and easy to guess. Choose another."), field
        )
