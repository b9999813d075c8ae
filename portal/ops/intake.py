"""Intake desk (入库): scan, weigh, photograph; unclaimed parcels (无主件) and customers' claims."""

from portal.ops import bp  # noqa: F401
