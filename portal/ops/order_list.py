"""The order processing list (销售订单处理): tabs, search, totals, exports, printing."""

from portal.ops import bp  # noqa: F401
