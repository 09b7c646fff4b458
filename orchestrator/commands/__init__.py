"""Subcommands of the ``aulacast`` CLI, one module per command group."""
