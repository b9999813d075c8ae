"""Where uploaded files live: behind this small interface, so that a shared object store can
replace the local folder when the portal runs on several machines.

Keys are random names generated here (never a name a user sent), one folder level, no path
separators; the default folder is `uploads` in the instance folder, outside `static/`.
"""

import contextlib
import os
import re
import secrets
from pathlib import Path

from flask import current_app

_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}(\.[a-z0-9]{1,5})?")
_SUFFIX = re.compile(r"(\.[a-z0-9]{1,5})?")

# Magic numbers of the image types we serve inline; anything else is sent as a download.
IMAGE_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


class LocalStorage:
    """Files in one local folder, named by their key."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def save(self, data: bytes, suffix: str = "") -> str:
        """Store the bytes under a new random key ending in `suffix` (".jpg"); return the key."""
        if not _SUFFIX.fullmatch(suffix):
            raise ValueError(f"bad suffix {suffix!r}")
        self.root.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(24) + suffix
        # "xb": never overwrite (a collision of 192 random bits would be a bug worth a crash).
        with open(self.root / key, "xb") as f:
            f.write(data)
        return key

    def open_path(self, key: str) -> Path:
        """The file of a key; raises KeyError for a key we could not have generated."""
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise KeyError(key)
        return self.root / key

    def delete(self, key: str) -> None:
        """Remove a stored file; a missing file is not an error."""
        with contextlib.suppress(KeyError, FileNotFoundError):
            self.open_path(key).unlink()


def upload_folder() -> Path:
    folder = current_app.config.get("UPLOAD_FOLDER")
    return Path(folder) if folder else Path(current_app.instance_path) / "uploads"


def backend() -> LocalStorage:
    """The storage of the current app."""
    return LocalStorage(upload_folder())


def save(data: bytes, suffix: str = "") -> str:
    return backend().save(data, suffix)


def open_path(key: str) -> Path:
    return backend().open_path(key)


def delete(key: str) -> None:
    backend().delete(key)


def sniff_image_type(head: bytes) -> str | None:
    """The MIME type of an image from its first bytes, or None if it is not one we serve."""
    for signature, mimetype in IMAGE_SIGNATURES:
        if head.startswith(signature):
            return mimetype
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None
