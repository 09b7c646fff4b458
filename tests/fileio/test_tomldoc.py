"""TOML with lines: tomllib's values, the line of each key from a scan of the text."""

from __future__ import annotations

import tomllib

import pytest

from fileio import FileFormatError, load_toml

TEXT = '''# a profile
description = "x = [not a table]"   # '=' and '[' inside a string
[video]
codec = "h264"
bitrate = 4_000_000
levels = [
  "a = 1",
  2,
]
after = 3
notes = """
fake = 1
[fake]
"""
"quoted.key" = 1
a.b.c = 2
inline = {x = 1, y = [1, 2]}

[[series]]
id = "a"
[series.inner]
k = 1
[[series]]
id = "b"
[[series.episodes]]
n = 1
[[series.episodes]]
n = 2
'''


def test_every_key_has_its_line() -> None:
    doc = load_toml(TEXT, file="p.toml")
    assert doc.data == tomllib.loads(TEXT)
    expect = {
        (): 1, ("description",): 2, ("video",): 3, ("video", "codec"): 4, ("video", "bitrate"): 5,
        ("video", "levels"): 6, ("video", "after"): 10, ("video", "notes"): 11, ("video", "quoted.key"): 15,
        ("video", "a", "b", "c"): 16, ("video", "inline"): 17, ("series", 0): 19, ("series", 0, "id"): 20,
        ("series", 0, "inner"): 21, ("series", 0, "inner", "k"): 22, ("series", 1): 23, ("series", 1, "id"): 24,
        ("series", 1, "episodes", 0): 25, ("series", 1, "episodes", 1, "n"): 28,
    }  # fmt: skip
    assert {path: doc.line(path) for path in expect} == expect
    assert ("fake",) not in doc.lines  # a header inside a multi-line string is text
    assert doc.line(("video", "inline", "y")) == 17  # inside an inline table: the line of its key
    assert doc.line(("video", "missing")) == 3  # an absent key: its table's header
    assert not doc.implicit


def test_invalid_toml_is_refused_with_tomllib_line() -> None:
    with pytest.raises(FileFormatError) as caught:
        load_toml("a = 1\n[video\ncodec = 'h264'\n", file="bad.toml")
    err = caught.value
    assert err.line == 2 and err.key is None and str(err).startswith("bad.toml:2: not valid TOML (")
