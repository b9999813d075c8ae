"""A small per-process cache of rendered quote fragments.

A fragment depends only on the card in force (id and revision), the business day, the language
and the query string, and holds nothing about the visitor, so it can be reused as is. Full pages
are never cached: they carry the user's navigation and CSRF token.
"""

import threading
from collections import OrderedDict

MAX_ENTRIES = 256
MAX_QUERY_BYTES = 512


class FragmentCache:
    def __init__(self, size: int = MAX_ENTRIES):
        self.size = size
        self._entries: OrderedDict[tuple, tuple[bytes, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> tuple[bytes, int] | None:
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
            return hit

    def put(self, key: tuple, body: bytes, status: int) -> None:
        with self._lock:
            self._entries[key] = (body, status)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


fragments = FragmentCache()
