"""The merchant's payments module (es-MX): staff sign-in, payments, actions, audit log."""
