"""Small helpers for answering htmx requests (see guides/style.md, HTMX conventions)."""

from flask import Response, make_response, redirect, render_template, request


def is_htmx() -> bool:
    """Any request sent by htmx."""
    return request.headers.get("HX-Request") == "true"


def is_partial() -> bool:
    """A request that wants a fragment: htmx, not aimed at the whole page, not a history restore."""
    return (
        is_htmx()
        and request.headers.get("HX-Request-Type") != "full"
        and request.headers.get("HX-Boosted") != "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def page_or_partial(page: str, partial: str, status: int = 200, **context) -> Response:
    """Render the fragment for a partial request and the full page otherwise."""
    response = make_response(render_template(partial if is_partial() else page, **context), status)
    response.vary.add("HX-Request")
    return response


def hx_redirect(location: str, status: int = 303) -> Response:
    """Redirect after a successful POST: HX-Redirect (204) for htmx, a plain redirect otherwise."""
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location, status)
