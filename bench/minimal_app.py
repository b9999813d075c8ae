"""The smallest Flask app, served by gunicorn as the baseline for the portal's quote fragment."""

from flask import Flask

app = Flask(__name__)


@app.route("/")
def index() -> str:
    """Answer a short constant string."""
    return "ok"
