"""Set-up: the site's name, service contacts and notice."""
