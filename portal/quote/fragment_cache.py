"""A small per-process cache of rendered quote fragments.

A fragment depends only on the card in force (id and revision), the business day, the language
and the query string, and holds nothing about the visitor, so it can be reused as is. Full pages
are never cached: they carry the user's navigation and CSRF token.
"""

from portal.lru import LRU

MAX_ENTRIES = 256
MAX_QUERY_BYTES = 512


class FragmentCache(LRU):
    """(body, status) by key; `get` answers the pair or None."""

    def __init__(self, size: int = MAX_ENTRIES):
        super().__init__(size)

    def put(self, key: tuple, body: bytes, status: int) -> None:
        super().put(key, (body, status))


fragments = FragmentCache()
