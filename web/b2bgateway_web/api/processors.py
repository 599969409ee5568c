"""Installed processor plugins and which one this merchant uses."""

from __future__ import annotations

from flask import Blueprint, Response

from b2bgateway.checkout_rules import required_for
from b2bgateway_web.api.base import current_merchant, json_response, operation
from b2bgateway_web.api.responses import ProcessorsOut
from b2bgateway_web.state import gateway

bp = Blueprint("processors", __name__, url_prefix="/processors")


@bp.get("")
@operation(
    summary="Installed processors and their capabilities",
    responses={200: ProcessorsOut},
    tags=("processors",),
)
def list_processors() -> Response:
    merchant = current_merchant()
    plugins = gateway().plugins
    configured = merchant.processor.name if merchant.processor else None
    settings_for = merchant.settings_for  # what this merchant's settings make required too
    data = []
    for name in plugins.processor_names:
        processor = plugins.processor(name)
        caps = processor.info.capabilities
        data.append(
            {
                "name": name,
                "display_name": processor.info.display_name,
                "version": processor.version,
                "capabilities": {
                    "currencies": sorted(caps.currencies),
                    "token_charge": caps.token_charge,
                    "hosted_checkout": caps.hosted_checkout,
                    "partial_refund": caps.partial_refund,
                    "three_d_secure": caps.three_d_secure,
                    "payment_methods": sorted(caps.payment_methods),
                    "installments": sorted(caps.installments),
                    "required": {
                        kind: sorted(fields)
                        for kind, fields in required_for(processor, settings_for(name)).items()
                    },
                    "installments_need_token": caps.installments_need_token,
                    "method_currencies": {m: sorted(c) for m, c in caps.method_currencies.items()},
                },
                "configured": name == configured,
            }
        )
    return json_response({"processor": configured, "data": data})
