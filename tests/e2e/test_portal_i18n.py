"""Issue 13 §4: the portal's pages in Kazakh, Russian and English, with no untranslated key.

Covered here: sign-in, home (every role's page list) and "My schedule". A key missing from a
catalogue shows as ⟦key⟧ (web/static/i18n.js), so rendering finds it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.test_portal_defects import seen
from tests.helpers.support import REPO

pytestmark = [pytest.mark.slow, pytest.mark.timeout(360)]
I18N = REPO / "web" / "static" / "i18n"
LANGS = ("kk", "ru", "en")
CATALOGUES = {lang: json.loads((I18N / f"{lang}.json").read_text()) for lang in LANGS}
AREAS = sorted(p for p in I18N.iterdir() if p.is_dir())


@pytest.mark.parametrize("folder", [I18N, *AREAS], ids=lambda p: p.name)
def test_the_catalogues_have_the_same_keys_and_no_empty_message(folder: Any) -> None:
    cats = {lang: json.loads((folder / f"{lang}.json").read_text()) for lang in LANGS}
    keys = {lang: set(c) for lang, c in cats.items()}
    assert keys["kk"] == keys["ru"] == keys["en"], {k: sorted(v ^ keys["en"]) for k, v in keys.items()}
    assert all(isinstance(v, str) and v.strip() for c in cats.values() for v in c.values())


def test_no_key_is_defined_in_two_catalogues() -> None:
    """An area's key shadowing a shared one (or another area's) would show different words per page."""
    seen: dict[str, str] = {}
    for folder in [I18N, *AREAS]:
        for key in json.loads((folder / "en.json").read_text()):
            assert key not in seen, f"{key} is in both {seen[key]} and {folder.name}"
            seen[key] = folder.name


@pytest.mark.parametrize("lang", ["kk", "ru", "en"])
def test_each_page_in_each_language_has_no_untranslated_key(portal_run: dict[str, Any], lang: str) -> None:
    pages = seen(portal_run, "languages")[lang]
    for name, page in pages.items():
        assert page["lang"] == lang, (name, page["lang"])
        for where in ("text", "labels", "title"):
            assert "⟦" not in page[where], (lang, name, where, page[where][:500])
    cat = CATALOGUES[lang]
    assert cat["login.submit"] in pages["login"]["text"]
    assert cat["page.registrar.title"] in pages["home"]["text"] and cat["shell.signout"] in pages["home"]["text"]
    assert cat["schedule.this"] in pages["schedule"]["text"]


def test_the_profiles_language_wins_over_the_browsers(portal_run: dict[str, Any]) -> None:
    page = seen(portal_run, "languages")["profile_kk_in_english_browser"]
    assert page["lang"] == "kk" and CATALOGUES["kk"]["home.title"] in page["text"]
