"""Reading and writing the files people hand us, below every other package.

    doc = read_yaml(path)                        # safe YAML: no aliases, capped size, a line per key
    r = Reader(doc, error=CalendarError)         # typed access; refusals say FILE:LINE: KEY: message
    write_text_atomic(path, text)                # whole or not at all

``schedules``, ``media``, ``signaling`` and ``orchestrator`` may all import
``fileio``; it imports none of them (pyproject.toml's import-linter contracts).
"""

from fileio.atomic import replace_dir, replacing, temp_beside, write_bytes_atomic, write_text_atomic
from fileio.document import Document, key_text
from fileio.errors import FileFormatError
from fileio.reader import Reader
from fileio.tomldoc import load_toml, read_toml
from fileio.yamldoc import load_yaml, read_yaml

__all__ = [
    "Document",
    "FileFormatError",
    "Reader",
    "key_text",
    "load_toml",
    "load_yaml",
    "read_toml",
    "read_yaml",
    "replace_dir",
    "replacing",
    "temp_beside",
    "write_bytes_atomic",
    "write_text_atomic",
]
