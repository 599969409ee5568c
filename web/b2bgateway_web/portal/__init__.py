"""The customer payment page (es-MX): ``/portal/<token>``.

What a portal embeds or links (after ``POST /v1/portal-sessions``): the customer's balances with
pay buttons, the invoice list with a checkbox per payable invoice and the reason, in Spanish, for
the others, an order view for an amount the portal passes, and each payment's status page. It
pays through the configured processor's hosted or redirect flow, so card data never touches it.
The blueprint with its routes is :mod:`b2bgateway_web.portal.routes`.
"""
