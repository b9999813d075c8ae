"""Entry point for gunicorn: `gunicorn wsgi:app`."""

import gc

from portal import create_app

app = create_app()
# What the app built at start-up lives as long as the worker: keep the garbage collector from
# walking it again on every collection (about 0.15 ms of a quote request).
gc.freeze()
