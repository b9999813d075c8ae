"""Reading a list's page number from a request parameter."""

import re

from flask import abort

MAX_PAGE = 10_000
PAGE = re.compile(r"[0-9]{1,5}")


def page_number(value: str | None) -> int | None:
    """1 when absent, the number when it is a plain 1..MAX_PAGE, otherwise None."""
    if value is None:
        return 1
    if not PAGE.fullmatch(value) or not 1 <= int(value) <= MAX_PAGE:
        return None
    return int(value)


def parse_page(value: str | None) -> int:
    """The page number of a list; anything but a plain 1..MAX_PAGE is a 404."""
    page = page_number(value)
    if page is None:
        abort(404)
    return page
