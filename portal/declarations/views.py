"""declarations views."""
