"""The merchant's built-in payability rules, as the default plugin (registered as ``rules``).

Other plugins implement the same hooks to add reasons; they cannot remove these.
"""

from __future__ import annotations

from b2bgateway import rules
from b2bgateway.hookspecs import hookimpl


@hookimpl(tryfirst=True)
def b2bgateway_order_reasons(context: rules.OrderContext) -> list[str]:
    return rules.order_reasons(context)


@hookimpl(tryfirst=True)
def b2bgateway_invoice_reasons(context: rules.InvoiceContext) -> list[str]:
    return rules.invoice_reasons(context)
