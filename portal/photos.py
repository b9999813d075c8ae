"""Serving a stored photo: private cache, type sniffed from its bytes, never rendered as HTML."""

from flask import abort, send_file

from portal.services import storage

PHOTO_CACHE_SECONDS = 3600


def send_photo(key: str | None, download_name: str, attachment: bool = False):
    """A stored photo as a private, cacheable response; 404 when it is missing.

    `attachment` sends it as a download (receipts): an <img> still shows it, a tab does not.
    """
    try:
        path = storage.open_path(key or "")
        with open(path, "rb") as f:
            head = f.read(16)
    except (KeyError, FileNotFoundError):
        abort(404)
    mimetype = storage.sniff_image_type(head)
    response = send_file(
        path,
        mimetype=mimetype or "application/octet-stream",
        as_attachment=attachment or mimetype is None,
        download_name=download_name,
        conditional=True,
        max_age=PHOTO_CACHE_SECONDS,
    )
    response.cache_control.private = True
    response.cache_control.public = False
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
