"""The sandbox: an offline processor, and the worked example for plugin authors.

It is a complete processor plugin that needs no account and no network, and it simulates what
Mexican B2B customers do:

* **Cards.** Tokens decide the outcome: ``tok_approved`` (a Visa credit card ending 4242),
  ``tok_debit`` (Visa debit, 5556), ``tok_prepaid`` (Mastercard prepaid, 5100), ``tok_declined``,
  ``tok_insufficient_funds``, ``tok_3ds`` (3-D Secure on the sandbox page), ``tok_timeout``
  (charged, answer lost). No token starts the hosted page. On the page each "approve" or
  "decline" is an *attempt* (``att_...``): a decline leaves the charge open for another card
  (``charge.attempt_failed``, not final); "cancel" or the expiry end it. MSI
  (``installments``) are recorded on credit cards. A succeeded card reports brand, last 4,
  funding, a 6-digit authorization code and when it was paid.
* **SPEI** (``payment_method="bank_transfer"``): a CLABE with a valid check digit, a 7-digit
  reference and a due date; it waits until someone "sends" transfers (``Ledger.pay`` or
  :func:`~b2bgateway.sandbox.simulate.pay_and_notify`). Short transfers add up
  (``charge.partially_funded``); the one that reaches the amount, or passes it, succeeds with its
  tracking key (clave de rastreo).
* **Cash** (``payment_method="cash"``): a 14-digit voucher reference, paid in full or not at all.
* **Expiry**: every waiting charge has ``expires_at`` (the gateway's, capped by the settings);
  past it the charge reads as ``expired``.
* **Disputes** on succeeded charges: opened, then won or lost (``charge.dispute.*`` events).
* ``can_cancel = false`` plays a processor that cannot cancel.

It keeps its own books in a SQLite file apart from the gateway's database, as a real processor
would, and it sends signed webhooks. Read it in this order, the same shape every processor package
follows:

* :mod:`~b2bgateway.sandbox.settings`: the pydantic model of the merchant's
  ``[merchants.X.processors.sandbox]`` table (secrets are ``SecretStr``).
* :mod:`~b2bgateway.sandbox.hooks`: the only module with ``@hookimpl``. Each implementation maps
  the request, calls the "processor" (here the ledger) and maps the answer to a result with
  :mod:`~b2bgateway.sandbox.mapping` (statuses, failures, next actions, webhook events).
* :mod:`~b2bgateway.sandbox.ledger`: the processor's side (a real plugin has a thin HTTP client
  here instead), with :mod:`~b2bgateway.sandbox.attempts` (the page's buttons),
  :mod:`~b2bgateway.sandbox.funding` (transfers and cash), :mod:`~b2bgateway.sandbox.disputes`,
  :mod:`~b2bgateway.sandbox.refunds`, :mod:`~b2bgateway.sandbox.expiry`,
  :mod:`~b2bgateway.sandbox.instruments` (CLABEs, references, codes),
  :mod:`~b2bgateway.sandbox.vouchers` (the voucher's lookup and ITF barcode),
  :mod:`~b2bgateway.sandbox.records` and :mod:`~b2bgateway.sandbox.schema`.
* :mod:`~b2bgateway.sandbox.events`, :mod:`~b2bgateway.sandbox.signing` and
  :mod:`~b2bgateway.sandbox.delivery`: the webhooks it owes, how they are signed (Stripe's
  ``t=,v1=`` scheme) and delivered; :mod:`~b2bgateway.sandbox.simulate` changes the books as a
  bank, a store or an issuer would and delivers what that owes.
"""
