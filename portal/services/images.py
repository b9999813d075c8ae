"""Uploaded photos (intake, unclaimed parcels, boxes, proofs): checked by their content, decoded
and re-encoded by Pillow (which drops anything hidden in the file and its EXIF data), thumbnailed
and stored outside static/ under generated names."""

import io
import warnings
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError

from portal.services import storage
from portal.services.errors import ValidationFailed

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_SIDE = 2048
THUMB_SIDE = 320
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}


@dataclass(frozen=True)
class StoredImage:
    image_key: str
    thumb_key: str


class InvalidImage(ValidationFailed):
    """The upload is not a photo we accept (type, size, pixels, damaged)."""


def _decode(data: bytes, field: str) -> Image.Image:
    if not data:
        raise InvalidImage(_l("Choose a photo to upload."), field)
    if len(data) > MAX_BYTES:
        raise InvalidImage(_l("A photo may be at most 10 MB."), field)
    if storage.sniff_image_type(data[:16]) is None:
        raise InvalidImage(_l("Upload a JPEG, PNG, WebP or GIF photo."), field)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED_FORMATS:
                raise InvalidImage(_l("Upload a JPEG, PNG, WebP or GIF photo."), field)
            if image.width * image.height > MAX_PIXELS:
                raise InvalidImage(_l("This photo has too many pixels."), field)
            image.load()
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise InvalidImage(_l("This file is damaged or is not a photo."), field) from exc
    return image


def _jpeg(image: Image.Image, side: int) -> bytes:
    copy = image.copy()
    copy.thumbnail((side, side))
    out = io.BytesIO()
    copy.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()


def check_image(data: bytes, field: str = "photo") -> Image.Image:
    """Decode an upload as an upright RGB image, or raise InvalidImage (nothing is stored)."""
    image = _decode(data, field)
    image = ImageOps.exif_transpose(image)
    if image.mode != "RGB":
        background = Image.new("RGB", image.size, "white")
        rgba = image.convert("RGBA")
        background.paste(rgba, mask=rgba.getchannel("A"))
        image = background
    return image


def store_image(data: bytes, field: str = "photo") -> StoredImage:
    """Check, re-encode as JPEG (at most 2048 px a side) and store a photo and its thumbnail."""
    return store_images([data], field, limit=1)[0]


def store_images(uploads: list[bytes], field: str = "photos", limit: int = 6) -> list[StoredImage]:
    """Check every upload first, then store them all; a bad one stores none."""
    if len(uploads) > limit:
        raise InvalidImage(_l("Upload at most %(n)s photos.", n=limit), field)
    checked = [check_image(data, field) for data in uploads]
    return [
        StoredImage(
            storage.save(_jpeg(image, MAX_SIDE), ".jpg"),
            storage.save(_jpeg(image, THUMB_SIDE), ".jpg"),
        )
        for image in checked
    ]


def discard(stored: list[StoredImage]) -> None:
    """Remove stored files whose database rows were rolled back."""
    for item in stored:
        storage.delete(item.image_key)
        storage.delete(item.thumb_key)
