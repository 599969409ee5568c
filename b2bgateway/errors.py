"""One tree of errors under :class:`GatewayError`.

Each class has a stable machine-readable ``code``, the HTTP ``status`` the web layer answers with,
and a short ``title``. Instances may narrow the code to one the class lists in ``narrower``
(``InvalidAmount(..., code="too_many_decimals")``) and carry extra members for the problem
document (``extra``). Messages never contain secrets.

:func:`error_codes` is every code with its status: the contract's list, which
docs/reference/errors.md and ``/openapi.json`` carry (``tests/test_contract.py`` holds all three
to it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

__all__ = [
    "AmountChanged",
    "BadRequest",
    "ConfigurationError",
    "DatabaseUnavailable",
    "EventOutOfOrder",
    "GatewayError",
    "IdempotencyConflict",
    "IdempotencyInProgress",
    "InstallmentsNotAvailable",
    "InvalidAmount",
    "InvalidCursor",
    "InvalidRequest",
    "NotFound",
    "NotPayable",
    "PaymentMethodNotAvailable",
    "PluginContractError",
    "PluginImportError",
    "ProcessorContractError",
    "ProcessorDeclined",
    "ProcessorMisconfigured",
    "ProcessorNotConfigured",
    "ProcessorPaymentNotFound",
    "ProcessorUnavailable",
    "RefundNotAllowed",
    "RequiredByProcessor",
    "TooManyFailedAuthentications",
    "Unauthorized",
    "UnsupportedMediaType",
    "UnsupportedRequest",
    "WebhookMalformed",
    "WebhookSignatureInvalid",
]


class GatewayError(Exception):
    """Base of every error b2bgateway raises on purpose."""

    code: ClassVar[str] = "gateway_error"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Gateway error"
    #: The codes an instance may narrow ``code`` to (same status): each is in the contract too.
    narrower: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self, detail: str = "", *, code: str | None = None, extra: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if code is not None:
            self.code = code  # type: ignore[misc]  # instance narrows the class default
        self.extra: dict[str, Any] = dict(extra or {})


class ConfigurationError(GatewayError):
    """Invalid configuration. ``problems`` lists ``(dotted key, message)`` pairs, never values."""

    code = "configuration_error"
    status = 500
    title = "Invalid configuration"

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  {key}: {message}" for key, message in self.problems)
        super().__init__(f"invalid configuration:\n{lines}")


class PluginImportError(ConfigurationError):
    """An installed plugin's entry point fails to import: every command would fail the same
    way, so the message names the entry point and how to switch it off."""

    code = "plugin_import_error"
    title = "Plugin failed to import"

    def __init__(self, name: str, target: str, cause: BaseException) -> None:
        self.plugin = name
        disable = (
            f'fix or uninstall it, or disable it: disabled_plugins = ["{name}"] in the '
            f"configuration file, or B2BGATEWAY_DISABLED_PLUGINS='[\"{name}\"]'"
        )
        self.problems = [(f"plugin {name}", f"{type(cause).__name__}: {cause}")]
        GatewayError.__init__(
            self,
            f"plugin {name!r} (entry point {name} = {target}) failed to import: "
            f"{type(cause).__name__}: {cause}\n  {disable}",
        )


class InvalidAmount(GatewayError):
    """An amount or currency that is not exact money (a float, too many decimals, unknown code)."""

    code = "invalid_amount"
    status = 422
    title = "Invalid amount"
    narrower = ("invalid_currency", "too_many_decimals", "currency_mismatch")


class NotFound(GatewayError):
    code = "not_found"
    status = 404
    title = "Not found"


class InvalidCursor(GatewayError):
    """A payments-feed cursor this API did not give out."""

    code = "invalid_cursor"
    status = 422
    title = "Invalid cursor"


# -- the HTTP request itself -----------------------------------------------------------------------


class Unauthorized(GatewayError):
    """No ``Authorization: Bearer`` key, or not a merchant's."""

    code = "unauthorized"
    status = 401
    title = "Unauthorized"


class TooManyFailedAuthentications(GatewayError):
    """This client address sent too many wrong API keys: every request of it is refused for
    ``retry_after`` seconds (``b2bgateway.throttle``)."""

    code = "too_many_failed_authentications"
    status = 429
    title = "Too many failed authentications"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"too many wrong API keys from this address; retry in {retry_after} seconds"
        )
        self.retry_after = retry_after


class BadRequest(GatewayError):
    """A request that cannot be read (not JSON, no ``Idempotency-Key``)."""

    code = "bad_request"
    status = 400
    title = "Bad request"
    narrower = ("invalid_json", "idempotency_key_required", "idempotency_key_invalid")


class UnsupportedMediaType(GatewayError):
    code = "unsupported_media_type"
    status = 415
    title = "Unsupported media type"


class InvalidRequest(GatewayError):
    """A request that validates field by field but not as a whole (a path id, a batch whose
    items name customers that do not exist): the same 422 ``validation_error`` as pydantic's,
    with ``errors`` in ``extra``."""

    code = "validation_error"
    status = 422
    title = "Invalid request"


class NotPayable(GatewayError):
    """The rules say no. ``reasons`` are the machine-readable reason codes
    (:class:`b2bgateway.rules.Reason`, docs/reference/reasons.md)."""

    code = "not_payable"
    status = 422
    title = "Not payable"

    def __init__(self, detail: str, reasons: Sequence[str], **extra: Any) -> None:
        super().__init__(detail, extra={"reasons": list(reasons), **extra})
        self.reasons = list(reasons)


class AmountChanged(GatewayError):
    """The invoices' balances changed since the portal showed them (``expected_amount``)."""

    code = "amount_changed"
    status = 409
    title = "Amount changed"


class RefundNotAllowed(GatewayError):
    """The payment cannot be refunded (not succeeded, or nothing left), or not by that much."""

    code = "refund_not_allowed"
    status = 409
    title = "Refund not allowed"
    #: the same refusal for the payments module's other money actions
    narrower = ("void_not_allowed", "cancel_not_allowed")


class IdempotencyConflict(GatewayError):
    code = "idempotency_key_reused"
    status = 422
    title = "Idempotency key reused"


class IdempotencyInProgress(GatewayError):
    """The first request with this ``Idempotency-Key`` is still running."""

    code = "idempotency_request_in_progress"
    status = 409
    title = "Request with this key in progress"


class UnsupportedRequest(GatewayError):
    """The configured processor cannot do this (its capabilities say so)."""

    code = "unsupported_by_processor"
    status = 422
    title = "Not supported by the processor"


# -- processor side -------------------------------------------------------------------------------


class ProcessorNotConfigured(GatewayError):
    code = "processor_not_configured"
    status = 422
    title = "No processor configured"


class ProcessorMisconfigured(GatewayError):
    """The processor refused our credentials or settings (authentication, permissions)."""

    code = "processor_misconfigured"
    status = 502
    title = "Processor misconfigured"


class ProcessorDeclined(GatewayError):
    """The processor refused an operation outright (not a card decline, which is a result)."""

    code = "processor_declined"
    status = 402
    title = "Declined by the processor"


class DatabaseUnavailable(GatewayError):
    """The database could not be reached or gave no connection in time; retrying is safe (what
    was committed stays, and an Idempotency-Key makes a retry answer the same)."""

    code = "service_unavailable"
    status = 503
    title = "Service unavailable"


class ProcessorUnavailable(GatewayError):
    """The processor could not be reached and nothing was sent, so retrying is safe."""

    code = "processor_unavailable"
    status = 503
    title = "Processor unavailable"


class ProcessorPaymentNotFound(GatewayError):
    """The processor has no record of the payment asked for (reconciliation uses this answer)."""

    code = "processor_payment_not_found"
    status = 404
    title = "Payment not found at the processor"


class PluginContractError(GatewayError):
    """A plugin broke the hook contract (returned a wrong type, or crashed)."""

    code = "plugin_contract_error"
    status = 500
    title = "Plugin error"


class ProcessorContractError(PluginContractError):
    """A processor plugin broke the hook contract (returned None, a wrong type, or crashed)."""

    code = "processor_contract_error"
    status = 502
    title = "Processor plugin error"


class WebhookSignatureInvalid(GatewayError):
    code = "webhook_signature_invalid"
    status = 400
    title = "Webhook signature invalid"


class WebhookMalformed(GatewayError):
    """An authentic notification whose body the plugin cannot read."""

    code = "webhook_malformed"
    status = 400
    title = "Webhook malformed"


class EventOutOfOrder(GatewayError):
    """A notification that cannot be applied yet (a refund or a dispute reported before its
    payment's success): answered 409 and not recorded, so the processor delivers it again
    later, when it can be applied."""

    code = "event_out_of_order"
    status = 409
    title = "Event out of order"


class PaymentMethodNotAvailable(GatewayError):
    """A checkout asked for a payment method the merchant does not offer or its processor
    cannot charge."""

    code = "payment_method_not_available"
    status = 422
    title = "Payment method not available"


class InstallmentsNotAvailable(GatewayError):
    """A checkout asked for MSI installments the merchant does not offer on cards (or its
    processor cannot charge)."""

    code = "installments_not_available"
    status = 422
    title = "Installments not available"


class RequiredByProcessor(GatewayError):
    """A checkout lacks what the merchant's processor requires for that kind of charge (the
    customer's email, the browser's device session id, a return URL); ``extra["missing"]``
    names the fields. Answered before the payment exists: nothing was sent."""

    code = "required_by_processor"
    status = 422
    title = "Required by the processor"


def error_codes() -> dict[str, int]:
    """Every code a :class:`GatewayError` can carry, with its HTTP status: each subclass's
    ``code`` and its ``narrower`` ones (the abstract base's own code is never raised)."""
    codes: dict[str, int] = {}
    pending = list(GatewayError.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        for code in (cls.code, *cls.narrower):
            codes.setdefault(code, cls.status)  # one status per code: tests/test_contract.py
    return dict(sorted(codes.items()))
