"""`{% cached key %}…{% endcached %}`: render a block of a template once per key, then reuse it.

The key must hold everything the block shows: the language and every value the block reads
(for a parcel card, every column of the parcel, its photos and its storage clock), so that a
block is never reused for different data. The block must not hold anything per visitor or per
request (a CSRF token, the current user). Kept per process, at most CACHED_BLOCKS blocks.
"""

from collections.abc import Hashable

from jinja2 import nodes
from jinja2.ext import Extension
from sqlalchemy import inspect

from portal.lru import LRU


class CachedBlocks(Extension):
    tags = {"cached"}

    def __init__(self, environment):
        super().__init__(environment)
        environment.extend(cached_blocks=LRU(4096))

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        key = parser.parse_expression()
        body = parser.parse_statements(("name:endcached",), drop_needle=True)
        call = self.call_method("_render_once", [key])
        return nodes.CallBlock(call, [], [], body).set_lineno(lineno)

    def _render_once(self, key: Hashable, caller) -> str:
        blocks = self.environment.cached_blocks
        found = blocks.get(key)
        if found is None:
            found = caller()
            blocks.put(key, found)
        return found


def columns_of(instance) -> tuple:
    """Every column value of a loaded model instance: the part of a block's key it gives."""
    mapper = inspect(type(instance))
    return (mapper.class_.__name__, *(getattr(instance, a.key) for a in mapper.column_attrs))
