"""Customers: search, a customer's page, disabling an account."""

from portal.ops import bp  # noqa: F401
