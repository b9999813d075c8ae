"""Logging in with a 物流通 account."""
