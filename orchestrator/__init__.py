"""The composition root: settings, store, auth, HTTP API, lifecycle and the CLI."""

__version__ = "0.1.0"

import logging as _logging

# alembic speaks at INFO on import (plugins) and on every revision check: a dozen lines before the
# start-up banner (issue 13 §1.8). Its warnings still show; Database.upgrade says what changed.
_logging.getLogger("alembic").setLevel(_logging.WARNING)
