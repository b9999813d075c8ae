"""Set-up: packing and value-added services and their prices."""
