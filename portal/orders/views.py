"""orders views."""
