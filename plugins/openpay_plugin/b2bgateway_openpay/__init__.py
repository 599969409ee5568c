"""Openpay (Mexico) processor plugin for b2bgateway, registered as ``openpay``.

The hook implementations are in :mod:`b2bgateway_openpay.hooks` (the entry point); they use a
small ``requests`` client (:mod:`~b2bgateway_openpay.client`) instead of the ``openpay`` SDK, for
the reasons given in the README.
"""
