"""The simulator's HTTP API: the same signed account check the portal calls in-process."""

from flask import Response, request

from portal.gateways.wuliutong import VERIFY_PATH
from portal.wuliutong_simulator import bp
from portal.wuliutong_simulator.service import answer_verify, is_down


@bp.route(VERIFY_PATH, methods=["POST"])
def verify_api():
    """Check a signed verify request and answer with a signed verdict (or a refusal)."""
    if is_down():
        return Response('{"error": "down"}', 503, mimetype="application/json")
    answer = answer_verify(request.get_data(cache=False), dict(request.headers))
    return Response(answer.body, answer.status, headers=dict(answer.headers))
