"""addresses views."""
