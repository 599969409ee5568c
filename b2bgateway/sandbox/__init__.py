"""The sandbox: an offline processor, and the worked example for plugin authors.

It is a complete processor plugin that needs no account and no network. Tokens decide the
outcome (``tok_approved``, ``tok_declined``, ``tok_insufficient_funds``, ``tok_3ds``,
``tok_timeout``; no token starts the hosted flow), it keeps its own books in a SQLite file apart
from the gateway's database, as a real processor would, and it sends signed webhooks.

Read it in this order, the same shape every processor package follows:

* :mod:`~b2bgateway.sandbox.settings`: the pydantic model of the merchant's
  ``[merchants.X.processors.sandbox]`` table (secrets are ``SecretStr``).
* :mod:`~b2bgateway.sandbox.hooks`: the only module with ``@hookimpl``. Each implementation maps
  the request, calls the "processor" (here the ledger) and maps the answer to a result.
* :mod:`~b2bgateway.sandbox.ledger`: the processor's side (a real plugin has a thin HTTP client
  here instead).
* :mod:`~b2bgateway.sandbox.signing` and :mod:`~b2bgateway.sandbox.delivery`: how outgoing
  webhooks are signed (Stripe's ``t=,v1=`` scheme) and delivered.
"""
