"""Packing (打包) into boxes and the bill; shipping (出库), tracking events and delivery."""

from portal.ops import bp  # noqa: F401
