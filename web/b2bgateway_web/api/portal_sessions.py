"""``POST /v1/portal-sessions``: a short-lived link to the customer payment page.

The link and its token are made by :mod:`b2bgateway_web.tokens`.
"""

from __future__ import annotations

from typing import Literal

from flask import Blueprint, Response
from pydantic import AnyHttpUrl, AwareDatetime, BaseModel, Field

from b2bgateway.money import Money
from b2bgateway.sync import get_customer
from b2bgateway_web.api.base import (
    current_merchant,
    json_response,
    not_found,
    operation,
    parse_body,
)
from b2bgateway_web.api.schemas import Id, OrderIn, Request
from b2bgateway_web.state import gateway
from b2bgateway_web.tokens import PortalOrder, create_link

__all__ = ["PortalSessionIn", "PortalSessionOut", "bp"]

bp = Blueprint("portal_sessions", __name__, url_prefix="/portal-sessions")


class PortalSessionIn(Request):
    customer_id: Id
    return_url: AnyHttpUrl | None = Field(
        default=None, description="Where the page's 'Volver al portal' link goes"
    )
    locale: Literal["es-MX"] = Field(default="es-MX", description="The page's language")
    order: OrderIn | None = Field(
        default=None,
        description="An order to pay: signed into the link, which then opens that order's "
        "payment view (`/pedido`); the page takes the order's amount and reference from here "
        "only, never from anything the customer can edit",
    )


class PortalSessionOut(BaseModel):
    url: str = Field(
        description="{public_url}/portal/{token} (with an order: {public_url}/portal/{token}/"
        "pedido): open it in the customer's browser"
    )
    expires_at: AwareDatetime = Field(description="The link works until then (30 minutes)")


@bp.post("")
@operation(
    summary="A link to the customer payment page (es-MX), valid for 30 minutes",
    body=PortalSessionIn,
    responses={201: PortalSessionOut},
    errors=(404, 422),
    tags=("portal",),
)
def create_portal_session() -> Response:
    """The link carries a signed token bound to this merchant and customer (and the order, when
    one is given); the page accepts nothing else as identity. Another merchant's customer is a
    404."""
    data = parse_body(PortalSessionIn)
    merchant = current_merchant()
    gw = gateway()
    with gw.store.read() as session:
        if get_customer(session, merchant.id, data.customer_id) is None:
            raise not_found(f"customer {data.customer_id!r}")
    order = None
    if data.order is not None:
        order = PortalOrder(data.order.reference, Money(data.order.amount, data.order.currency))
    url, expires_at = create_link(
        gw,
        merchant,
        data.customer_id,
        return_url=None if data.return_url is None else str(data.return_url),
        locale=data.locale,
        order=order,
    )
    expires = expires_at.isoformat().replace("+00:00", "Z")
    return json_response({"url": url, "expires_at": expires}, 201)
