"""Stripe processor plugin for b2bgateway.

PaymentIntents for browser-made PaymentMethods (``pm_...``), Checkout Sessions for the hosted
flow, refunds, and signed webhooks, on the ``stripe`` SDK with one ``StripeClient`` per merchant.
The hook implementations are in :mod:`b2bgateway_stripe.hooks`.
"""
