"""The sandbox processor's pages; its core (``b2bgateway.sandbox``) stays free of Flask."""
