"""Mercado Pago processor plugin for b2bgateway.

Card tokens made in the browser (Checkout API, ``POST /v1/payments``) and the hosted Checkout
Pro (preferences), refunds, and signed Webhooks notifications. The plugin is the
``mercadopago`` entry point of the ``b2bgateway`` group: :mod:`b2bgateway_mercadopago.hooks`.
"""
