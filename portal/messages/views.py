"""messages views."""
