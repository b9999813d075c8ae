"""Set-up: staff users, their roles and invitations."""
