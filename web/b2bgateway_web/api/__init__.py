"""The v1 HTTP API: one module per resource, ``base`` (what they share: the ``v1`` blueprint,
authentication, parsing, ``Idempotency-Key``), ``schemas`` (the pydantic models) and ``routes``
(the ``v1`` table ``create_app`` registers); ``/healthz``, ``/openapi.json`` and webhooks too."""
