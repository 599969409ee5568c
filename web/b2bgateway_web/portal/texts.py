"""The customer page's words (es-MX): reasons, document types, payment statuses, failures.

The tables hold the source text (marked with ``N_`` for extraction); the helpers below translate
it for the request (``b2bgateway_web.i18n``), so the tables can be read without a request.
"""

from __future__ import annotations

from collections.abc import Iterable

from b2bgateway.interface import PaymentStatus
from b2bgateway.rules import Reason
from b2bgateway_web.i18n import N_
from b2bgateway_web.i18n import gettext as _

__all__ = [
    "CHALLENGE",
    "CONFIRMING",
    "DOCUMENT_TYPES",
    "FAILURES",
    "FINAL",
    "ORDER_PAID",
    "REASONS",
    "SOURCES",
    "STATUSES",
    "UNKNOWN_FAILURE",
    "UNKNOWN_REASON",
    "document_text",
    "failure_text",
    "reason_texts",
    "status_texts",
]

#: Every reason code of :class:`b2bgateway.rules.Reason`, in the customer's words.
REASONS: dict[str, str] = {
    Reason.PROCESSOR_NOT_CONFIGURED: N_("Los pagos en línea no están disponibles"),
    Reason.CURRENCY_NOT_SUPPORTED: N_("No se puede pagar en línea en esta moneda"),
    Reason.CUSTOMER_INACTIVE: N_("Tu cuenta está inactiva"),
    Reason.ORDERS_MODULE_HIDDEN: N_("Los pedidos no están disponibles en el portal"),
    Reason.ORDER_PAYMENTS_DISABLED: N_("El pago de pedidos en línea no está activado"),
    Reason.CREDIT_LIMIT_NOT_ASSIGNED: N_("No tienes un límite de crédito asignado"),
    Reason.WITHIN_CREDIT_LIMIT: N_("El pedido está dentro de tu límite de crédito"),
    Reason.CURRENCY_MISMATCH: N_("El pedido está en una moneda distinta a la de tu crédito"),
    Reason.INVOICES_MODULE_HIDDEN: N_("Las facturas no están disponibles en el portal"),
    Reason.INVOICE_PAYMENTS_DISABLED: N_("El pago de facturas en línea no está activado"),
    Reason.NOT_AN_INVOICE: N_("No es una factura"),
    Reason.UNSUPPORTED_SOURCE: N_("Documento de otro sistema de tu proveedor; págalo con él"),
    Reason.NO_BALANCE: N_("Sin saldo"),
    Reason.PAYMENT_REGISTERED: N_("Ya tiene un pago registrado"),
    Reason.PAYMENT_PENDING: N_("Tiene un pago pendiente (transferencia o depósito)"),
    Reason.MIXED_CURRENCIES: N_("Las facturas están en monedas distintas"),
}
#: A code a plugin added that this page does not know.
UNKNOWN_REASON = N_("No se puede pagar en línea")

#: Where a document comes from (its ``source``), for "Cargo de cuentas por cobrar; ..."
SOURCES = {
    "cuentas_por_cobrar": N_("Cargo de cuentas por cobrar; págalo directamente con tu proveedor"),
    "punto_de_venta": N_("Venta de mostrador; págala directamente con tu proveedor"),
}

DOCUMENT_TYPES = {
    "factura": N_("Factura"),
    "nota_credito": N_("Nota de crédito"),
    "cargo": N_("Cargo"),
}

#: status -> (title, explanation)
STATUSES: dict[str, tuple[str, str]] = {
    PaymentStatus.REQUIRES_ACTION: (
        N_("Pago pendiente"),
        N_(
            "Aún no terminas este pago. Continúa con el pago, o cancélalo para que tus facturas "
            "queden libres de inmediato."
        ),
    ),
    PaymentStatus.PROCESSING: (
        N_("Procesando el pago"),
        N_("Estamos confirmando el pago con el procesador. Esta página se actualiza sola."),
    ),
    PaymentStatus.SUCCEEDED: (
        N_("Pago aprobado"),
        N_(
            "Gracias. Tu pago quedó registrado. El saldo de tus facturas se actualizará cuando "
            "tu proveedor lo aplique."
        ),
    ),
    PaymentStatus.FAILED: (N_("Pago no realizado"), N_("No se hizo ningún cargo.")),
    PaymentStatus.CANCELED: (N_("Pago cancelado"), N_("No se hizo ningún cargo.")),
    PaymentStatus.PARTIALLY_REFUNDED: (
        N_("Pago reembolsado parcialmente"),
        N_("Tu proveedor devolvió parte de este pago."),
    ),
    PaymentStatus.REFUNDED: (N_("Pago reembolsado"), N_("Tu proveedor devolvió este pago.")),
    PaymentStatus.DISPUTED: (
        N_("Pago en aclaración"),
        N_(
            "Tu banco abrió una aclaración sobre este pago. Tu proveedor te informará el resultado."
        ),
    ),
}
#: An order's payment, once approved: nothing to do with invoices.
ORDER_PAID = N_("Gracias. Tu pago quedó registrado y tu proveedor ya puede procesar tu pedido.")
#: Back from the processor's page, while its answer is being confirmed.
#: A card payment waiting for the issuer's 3-D Secure challenge (``post_form``).
CHALLENGE = (
    N_("Confirma el pago con tu banco"),
    N_(
        "Tu banco pide confirmar que eres tú. Completa la verificación aquí abajo; esta página "
        "se actualiza cuando tu banco responda."
    ),
)
CONFIRMING = (
    N_("Confirmando tu pago…"),
    N_("Estamos confirmando tu pago con el procesador. Esta página se actualiza sola."),
)
FINAL = frozenset(
    {
        PaymentStatus.SUCCEEDED,
        PaymentStatus.FAILED,
        PaymentStatus.CANCELED,
        PaymentStatus.PARTIALLY_REFUNDED,
        PaymentStatus.REFUNDED,
        PaymentStatus.DISPUTED,  # decided by the bank in weeks: nothing to wait for on the page
    }
)
FAILURES = {
    "card_declined": N_("Tu banco rechazó la tarjeta."),
    "insufficient_funds": N_("La tarjeta no tiene fondos suficientes."),
    "canceled": N_("Cancelaste el pago en la página del procesador."),
    "expired": N_("El pago no se completó a tiempo."),
    "processor_unavailable": N_("El procesador de pagos no respondió. Intenta de nuevo más tarde."),
    "processor_not_reached": N_("El pago no llegó al procesador."),
    "processor_misconfigured": N_("El pago en línea no está disponible por ahora."),
}
UNKNOWN_FAILURE = N_("El procesador no aprobó el pago.")


def reason_texts(codes: Iterable[str], source: str | None = None) -> list[str]:
    """Each reason code once, in the customer's words (a code a plugin added: the generic one);
    with the document's ``source``, "another module" says which one."""
    texts = []
    for code in dict.fromkeys(codes):
        if code == Reason.UNSUPPORTED_SOURCE and source in SOURCES:
            texts.append(_(SOURCES[source]))
        else:
            texts.append(_(REASONS.get(code, UNKNOWN_REASON)))
    return texts


def document_text(document_type: str) -> str:
    known = DOCUMENT_TYPES.get(document_type)
    return document_type if known is None else _(known)


def status_texts(status: str) -> tuple[str, str]:
    """(title, explanation) of a payment status; an unknown one is shown as is."""
    known = STATUSES.get(status)
    return (status, "") if known is None else (_(known[0]), _(known[1]))


def failure_text(code: str) -> str:
    return _(FAILURES.get(code, UNKNOWN_FAILURE))
