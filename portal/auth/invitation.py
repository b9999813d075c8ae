"""A new staff member accepts an invitation by choosing a password."""
