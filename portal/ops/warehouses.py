"""Set-up: the warehouses customers send parcels to."""
