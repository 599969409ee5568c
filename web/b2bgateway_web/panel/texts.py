"""The payments module's words for the gateway's codes (statuses, methods, failure codes, audit
actions), marked for extraction and translated where they are shown."""

from __future__ import annotations

from typing import Any

from b2bgateway_web.i18n import N_
from b2bgateway_web.i18n import gettext as _

__all__ = [
    "action",
    "cause",
    "change",
    "failure",
    "manual_method",
    "method",
    "moment",
    "status",
]

STATUSES = {
    "requires_action": N_("Espera al cliente"),
    "processing": N_("En proceso"),
    "succeeded": N_("Pagado"),
    "failed": N_("Fallido"),
    "canceled": N_("Cancelado"),
    "partially_refunded": N_("Reembolsado en parte"),
    "refunded": N_("Reembolsado"),
    "disputed": N_("En disputa"),
}
METHODS = {
    "card": N_("Tarjeta"),
    "bank_transfer": N_("Transferencia SPEI"),
    "cash": N_("Efectivo en tienda"),
    "manual": N_("Pago manual"),
}
MANUAL_METHODS = {
    "cash": N_("Efectivo"),
    "transfer": N_("Transferencia"),
    "check": N_("Cheque"),
    "other": N_("Otro"),
}
FAILURES = {
    "card_declined": N_("El banco del cliente rechazó la tarjeta."),
    "insufficient_funds": N_("La tarjeta no tiene fondos suficientes."),
    "expired": N_("El cliente no terminó el pago a tiempo."),
    "canceled": N_("El pago se canceló."),
    "voided": N_("Pago manual anulado."),
    "processor_unavailable": N_("No se pudo contactar al procesador de pagos."),
    "processor_not_reached": N_("El cobro nunca llegó al procesador de pagos."),
    "processor_misconfigured": N_("El procesador rechazó las credenciales del comercio."),
    "payment_failed": N_("El procesador no aprobó el pago."),
}
ACTIONS = {
    "sign_in": N_("Entró"),
    "sign_in_failed": N_("Intento de entrada fallido"),
    "sign_out": N_("Salió"),
    "refund": N_("Reembolso"),
    "cancel": N_("Cancelación"),
    "void": N_("Anulación"),
    "manual_payment": N_("Pago manual"),
    "replay": N_("Reenvío de evento"),
    "pay_link": N_("Enlace de pago"),
    "user_added": N_("Usuario creado"),
    "user_disabled": N_("Usuario desactivado"),
    "password_reset": N_("Contraseña nueva"),
    "totp_enrolled": N_("Segundo factor activado"),
    "totp_reset": N_("Segundo factor restablecido"),
    "totp_ticket_issued": N_("Clave de activación de segundo factor"),
    "totp_locked": N_("Códigos bloqueados"),
    "export": N_("Exportación"),
}
#: Who or what caused a moment of a payment's history (a staff user's e-mail stays as it is).
CAUSES = {
    "api": N_("API del portal"),
    "processor": N_("Procesador"),
    "webhook": N_("Aviso del procesador"),
}
#: What a processor's notification did (the webhook's outcome).
OUTCOMES = {
    "applied": N_("aplicado"),
    "duplicate": N_("repetido"),
    "ignored": N_("sin efecto"),
    "unchanged": N_("sin cambios"),
    "refused": N_("rechazado"),
    "late_success": N_("pago tardío"),
    "attempt_failed": N_("intento fallido"),
    "overpaid": N_("pago de más"),
    "mismatch": N_("no coincide"),
    "recorded": N_("registrado"),
    "unknown": N_("sin respuesta aún"),
    "unknown_payment": N_("pago desconocido"),
}
DISPUTES = {"open": N_("abierta"), "won": N_("ganada"), "lost": N_("perdida")}
#: What a status change's details name (b2bgateway.history: its ``event``).
CHANGE_EVENTS = {
    "late_success": N_("pago tardío: el procesador cobró después del cierre"),
    "dispute_opened": N_("disputa abierta"),
    "dispute_closed": N_("disputa cerrada"),
    "voided": N_("pago manual anulado"),
}


def status(code: str) -> str:
    return _(STATUSES[code]) if code in STATUSES else code


def method(code: str) -> str:
    return _(METHODS[code]) if code in METHODS else code


def manual_method(code: str) -> str:
    return _(MANUAL_METHODS[code]) if code in MANUAL_METHODS else code


def failure(code: str | None) -> str:
    if code is None:
        return ""
    return _(FAILURES[code]) if code in FAILURES else _("El pago no se completó.")


def action(code: str) -> str:
    return _(ACTIONS[code]) if code in ACTIONS else code


def cause(code: str) -> str:
    return _(CAUSES[code]) if code in CAUSES else code


def moment(kind: str, code: str) -> str:
    """A history moment's ``what`` in words, by its kind."""
    if kind == "staff":
        return action(code)
    if kind == "webhook":
        return _(OUTCOMES[code]) if code in OUTCOMES else code
    if kind.startswith("dispute"):
        return _(DISPUTES[code]) if code in DISPUTES else code
    return status(code)


def change(row: Any) -> str:
    """A status change (a ``payment_status_changes`` row) and its cause in one line, e.g.
    "En proceso → Pagado · Webhook de stripe: charge.succeeded (evt_1)"."""
    if row.from_status is None:
        moved = _("Creado: %(status)s") % {"status": status(row.to_status)}
    else:
        moved = f"{status(row.from_status)} → {status(row.to_status)}"
    parts = [moved, change_cause(row)]
    if row.processor_status and row.cause != "webhook":
        parts.append(_("estado en el procesador: %(status)s") % {"status": row.processor_status})
    if row.failure_code:
        parts.append(failure(row.failure_code))
    if row.event in CHANGE_EVENTS:
        parts.append(_(CHANGE_EVENTS[row.event]))
    if row.refund_id:
        parts.append(_("reembolso %(id)s") % {"id": row.refund_id})
    if row.dispute_reference:
        parts.append(_("disputa %(id)s") % {"id": row.dispute_reference})
    return " · ".join(parts)


def change_cause(row: Any) -> str:
    """Who or what made a status change, in words (see ``b2bgateway.history.KINDS``)."""
    kind, actor = row.cause, row.actor or ""
    if kind == "api":
        if row.actor_id:
            return _("API del portal (clave %(number)s)") % {"number": row.actor_id}
        return _("API del portal")
    if kind == "customer":
        return _("El cliente en la página de pago")
    if kind == "webhook":
        told = _("Webhook de %(processor)s") % {"processor": actor}
        if row.processor_status:
            told += f": {row.processor_status}"
        return f"{told} ({row.processor_event_id})" if row.processor_event_id else told
    if kind == "reconcile":
        return _("Conciliación con %(processor)s") % {"processor": actor}
    if kind == "expiry":
        return _("Venció sin pago (conciliación con %(processor)s)") % {"processor": actor}
    if kind == "staff":
        return _("Por %(email)s (panel)") % {"email": actor}
    if kind == "cli":
        return _("Por %(who)s (línea de comandos)") % {"who": actor}
    return _("Origen no registrado")
