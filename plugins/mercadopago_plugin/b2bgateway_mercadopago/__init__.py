"""Mercado Pago processor plugin for b2bgateway.

Mercado Pago México: card tokens made in the browser (Checkout API, ``POST /v1/payments``, MSI),
the hosted Checkout Pro (preferences), cash vouchers (OXXO and others), refunds, and signed
Webhooks notifications (payments and chargebacks). The plugin is the
``mercadopago`` entry point of the ``b2bgateway`` group: :mod:`b2bgateway_mercadopago.hooks`.
"""
