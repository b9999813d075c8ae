"""Short random codes customers read, type and write on parcels: no 0/O or 1/I look-alikes."""

import secrets

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CUSTOMER_CODE_LENGTH = 6
INVITE_CODE_LENGTH = 8


def random_code(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def new_customer_code() -> str:
    return random_code(CUSTOMER_CODE_LENGTH)


def new_invite_code() -> str:
    return random_code(INVITE_CODE_LENGTH)


def normalise_code(raw: str) -> str:
    """Codes are case-insensitive and may be typed with spaces."""
    return "".join(raw.split()).upper()
