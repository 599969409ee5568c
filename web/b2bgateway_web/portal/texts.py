"""The customer page's words (es-MX): reasons, document types, payment statuses, failures."""

from __future__ import annotations

from collections.abc import Iterable

from b2bgateway.interface import PaymentStatus
from b2bgateway.rules import Reason

__all__ = [
    "DOCUMENT_TYPES",
    "FAILURES",
    "FINAL",
    "REASONS",
    "STATUSES",
    "UNKNOWN_FAILURE",
    "UNKNOWN_REASON",
    "reason_texts",
]

#: Every reason code of :class:`b2bgateway.rules.Reason`, in the customer's words.
REASONS: dict[str, str] = {
    Reason.PROCESSOR_NOT_CONFIGURED: "Los pagos en línea no están disponibles",
    Reason.CURRENCY_NOT_SUPPORTED: "No se puede pagar en línea en esta moneda",
    Reason.CUSTOMER_INACTIVE: "Tu cuenta está inactiva",
    Reason.ORDERS_MODULE_HIDDEN: "Los pedidos no están disponibles en el portal",
    Reason.ORDER_PAYMENTS_DISABLED: "El pago de pedidos en línea no está activado",
    Reason.CREDIT_LIMIT_NOT_ASSIGNED: "No tienes un límite de crédito asignado",
    Reason.WITHIN_CREDIT_LIMIT: "El pedido está dentro de tu límite de crédito",
    Reason.CURRENCY_MISMATCH: "El pedido está en una moneda distinta a la de tu crédito",
    Reason.INVOICES_MODULE_HIDDEN: "Las facturas no están disponibles en el portal",
    Reason.INVOICE_PAYMENTS_DISABLED: "El pago de facturas en línea no está activado",
    Reason.NOT_AN_INVOICE: "No es una factura",
    Reason.UNSUPPORTED_SOURCE: "Documento de otro módulo",
    Reason.NO_BALANCE: "Sin saldo",
    Reason.PAYMENT_REGISTERED: "Ya tiene un pago registrado",
    Reason.MIXED_CURRENCIES: "Las facturas están en monedas distintas",
}
#: A code a plugin added that this page does not know.
UNKNOWN_REASON = "No se puede pagar en línea"

DOCUMENT_TYPES = {
    "factura": "Factura",
    "nota_credito": "Nota de crédito",
    "cargo": "Cargo",
}

#: status -> (title, explanation)
STATUSES: dict[str, tuple[str, str]] = {
    PaymentStatus.REQUIRES_ACTION: (
        "Esperando tu confirmación",
        "Completa el pago en la página del procesador. Esta página se actualiza sola.",
    ),
    PaymentStatus.PROCESSING: (
        "Procesando el pago",
        "Estamos confirmando el pago con el procesador. Esta página se actualiza sola.",
    ),
    PaymentStatus.SUCCEEDED: (
        "Pago aprobado",
        "Gracias. Tu pago quedó registrado. El saldo de tus facturas se actualizará cuando tu "
        "proveedor lo aplique.",
    ),
    PaymentStatus.FAILED: ("Pago no realizado", "No se hizo ningún cargo."),
    PaymentStatus.CANCELED: ("Pago cancelado", "No se hizo ningún cargo."),
    PaymentStatus.PARTIALLY_REFUNDED: (
        "Pago reembolsado parcialmente",
        "Tu proveedor devolvió parte de este pago.",
    ),
    PaymentStatus.REFUNDED: ("Pago reembolsado", "Tu proveedor devolvió este pago."),
}
FINAL = frozenset(
    {
        PaymentStatus.SUCCEEDED,
        PaymentStatus.FAILED,
        PaymentStatus.CANCELED,
        PaymentStatus.PARTIALLY_REFUNDED,
        PaymentStatus.REFUNDED,
    }
)
FAILURES = {
    "card_declined": "Tu banco rechazó la tarjeta.",
    "insufficient_funds": "La tarjeta no tiene fondos suficientes.",
    "canceled": "Cancelaste el pago en la página del procesador.",
    "expired": "El pago no se completó a tiempo.",
    "processor_unavailable": "El procesador de pagos no respondió. Intenta de nuevo más tarde.",
    "processor_not_reached": "El pago no llegó al procesador.",
    "processor_misconfigured": "El pago en línea no está disponible por ahora.",
}
UNKNOWN_FAILURE = "El procesador no aprobó el pago."


def reason_texts(codes: Iterable[str]) -> list[str]:
    return [REASONS.get(code, UNKNOWN_REASON) for code in dict.fromkeys(codes)]
