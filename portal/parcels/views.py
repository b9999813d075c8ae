"""parcels views."""
