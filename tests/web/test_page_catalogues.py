"""Issue 13 §4, the static half: every word a page's HTML carries is fetched from the catalogues.

The browser test (tests/e2e/test_portal_i18n.py) finds keys missing from a catalogue (⟦key⟧); it cannot
see English written straight into the HTML, which stays English in every language. Here each text,
aria-label, placeholder and the document title of the pages below must name its catalogue key
(data-i18n, data-i18n-label, data-i18n-placeholder, data-i18n-doc), and every key named must exist
in kk, ru and en.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from tests.helpers.support import REPO

STATIC = REPO / "web" / "static"
I18N = STATIC / "i18n"
PAGES = ("login", "schedule", "staff", "room", "archive", "player", "handin")
WORDLESS = re.compile(r"^[\s\W\d]*$")  # punctuation, symbols, numbers: nothing to translate
ATTRS = {"aria-label": "data-i18n-label", "placeholder": "data-i18n-placeholder", "title": "data-i18n-tip"}


class Words(HTMLParser):
    """Collects (what, where) for each untranslatable piece, and every key the page names."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.bare: list[str] = []
        self.keys: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for name in ("data-i18n", "data-i18n-label", "data-i18n-placeholder", "data-i18n-tip", "data-i18n-doc"):
            if a.get(name):
                self.keys.add(str(a[name]))
        for attr, marker in ATTRS.items():
            if a.get(attr) and not (tag == "title" or a.get(marker)):
                self.bare.append(f"<{tag}> {attr}={a[attr]!r}")
        if tag not in ("meta", "link", "input", "br", "img", "source"):
            self.stack.append((tag, a))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if WORDLESS.match(data) or data.strip() == "aulacast" or not self.stack:  # the product's name stays
            return
        tag, a = self.stack[-1]
        if tag in ("script", "style"):
            return
        marker = "data-i18n-doc" if tag == "title" else "data-i18n"
        if not a.get(marker):
            self.bare.append(f"<{tag}> text {data.strip()!r}")


def catalogue_keys(lang: str) -> set[str]:
    keys = set(json.loads((I18N / f"{lang}.json").read_text(encoding="utf-8")))
    for folder in I18N.iterdir():
        if folder.is_dir():
            keys |= set(json.loads((folder / f"{lang}.json").read_text(encoding="utf-8")))
    return keys


@pytest.mark.parametrize("page", PAGES)
def test_every_word_of_the_page_comes_from_the_catalogues(page: str) -> None:
    words = Words()
    words.feed((STATIC / f"{page}.html").read_text(encoding="utf-8"))
    assert words.bare == [], words.bare
    for lang in ("kk", "ru", "en"):
        missing = sorted(words.keys - catalogue_keys(lang))
        assert missing == [], (lang, missing)
