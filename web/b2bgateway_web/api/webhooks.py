"""``POST /v1/webhooks/{merchant_id}/{processor}``: processors' notifications.

Not behind the API key: each processor's own scheme authenticates it (the plugin verifies).
The core pipeline (b2bgateway.webhooks) records and applies; this view only hands over the raw
body and answers fast: 200 for anything authentic (including duplicates and events we ignore),
400 for what is not, 404 for an endpoint that does not exist, 409 for an event that cannot be
applied yet (``event_out_of_order``).
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from b2bgateway import webhooks
from b2bgateway_web.api.base import json_response, operation
from b2bgateway_web.state import gateway

bp = Blueprint("webhooks", __name__, url_prefix="/v1/webhooks")


@bp.post("/<merchant_id>/<processor>")
@operation(
    summary="A processor's notification (verified by that processor's scheme)",
    responses={200: None},
    errors=(400, 404, 409),  # 409: event_out_of_order, delivered again later
    authenticated=False,
    tags=("webhooks",),
)
def receive(merchant_id: str, processor: str) -> Response:
    received = webhooks.receive(
        gateway(),
        merchant_id,
        processor,
        request.get_data(cache=False),
        dict(request.headers),
        request.args.to_dict(),
    )
    return json_response(
        {"received": True, "event_id": received.event_id, "outcome": received.outcome}
    )
