"""Webhooks: bus events POSTed to configured URLs, signed like LiveKit's, retried from a delivery table."""
