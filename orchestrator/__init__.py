"""The composition root: settings, store, auth, HTTP API, lifecycle and the CLI."""

__version__ = "0.1.0"
