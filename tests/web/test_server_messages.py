"""Issue 13 §4: every sentence the server makes for a person has a code the pages word in kk, ru and en.

Each module that makes such sentences keeps a fileio.message.Messages catalogue (its codes and English
templates); the page that shows them renders ``<area>.msg.<code>`` from its area's catalogue. Here every
code of every catalogue must have a non-empty message in all three languages, Kazakh and Russian not the
English copied, each naming the same quoted values.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fileio.message import Messages
from media.recording.recorder import STOP_REASONS
from media.transcode.intake import REFUSALS
from media.transcode.probe import NOT_MEDIA
from orchestrator.archive.presentations import HANDIN_REFUSALS, HandinRefused, check_handin, upload_message
from orchestrator.config import Settings
from orchestrator.recordings import RECORDING_REASONS
from schedules.tv.fill import WARNINGS
from signaling.protocol import LEAVE_REASONS
from tests.helpers.support import REPO

I18N = REPO / "web" / "static" / "i18n"
# (page area, catalogue): where each code is worded
SOURCES: list[tuple[str, Messages]] = [
    ("engineer", WARNINGS),  # the channel day's builder notes
    ("room", LEAVE_REASONS),  # why a person leaves the room (denied, removed, session-ended)
    ("room", RECORDING_REASONS),  # why a recording stopped (the room's "recording" event)
    ("room", STOP_REASONS),
    ("archive", HANDIN_REFUSALS),  # why a hand-in is refused (the upload's message, GET /api/uploads)
    ("archive", REFUSALS),  # ... a video's, by media's intake
    ("archive", NOT_MEDIA),
]


def test_no_code_is_used_twice_in_one_area() -> None:
    seen: dict[tuple[str, str], Messages] = {}
    for area, messages in SOURCES:
        for code in messages:
            assert (area, code) not in seen, (area, code)
            seen[area, code] = messages


def _catalogue(area: str, lang: str) -> dict[str, str]:
    return json.loads((I18N / area / f"{lang}.json").read_text(encoding="utf-8"))


def _names(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


@pytest.mark.parametrize(("area", "code"), [(a, c) for a, m in SOURCES for c in m], ids=lambda v: str(v))
def test_each_code_is_worded_in_kazakh_russian_and_english(area: str, code: str) -> None:
    key = f"{area}.msg.{code}"
    words = {lang: _catalogue(area, lang).get(key, "") for lang in ("kk", "ru", "en")}
    assert all(w.strip() for w in words.values()), (key, words)
    assert words["kk"] != words["en"] and words["ru"] != words["en"] and words["kk"] != words["ru"], (key, words)
    assert _names(words["kk"]) == _names(words["ru"]) == _names(words["en"]), (key, words)


@pytest.mark.parametrize(("area", "messages"), SOURCES, ids=lambda v: v if isinstance(v, str) else "")
def test_the_pages_words_quote_only_values_the_server_sends(area: str, messages: Messages) -> None:
    """A page message may name a value only when the server's sentence sends it (or the page words it itself)."""
    page_made = {"programme"}  # the engineer page words the programme from title, episode and repeat
    for code, template in messages.templates.items():
        sent = _names(template) | {"title", "episode", "repeat"} | page_made
        assert _names(_catalogue(area, "en")[f"{area}.msg.{code}"]) <= sent, code


def test_a_made_message_reads_back_to_its_code_and_values() -> None:
    m = Messages({"a": "slot {slot} has no lecture", "b": "write failed: {error}"})
    made = m.make("b", error="[Errno 5] I/O error: x")
    assert made.text == "write failed: [Errno 5] I/O error: x"
    assert m.parse(made.text) == made and m.parse("slot 10:30 has no lecture").params == {"slot": "10:30"}
    assert m.parse("something else") is None


@pytest.mark.parametrize(("kind", "body", "code"), [("written_work", b"hello", "pdf_not_pdf"),
                                                    ("presentation", b"just some text\n" * 40, "media_unreadable")])
def test_a_refused_hand_in_reads_back_to_its_code_with_the_students_file_name(
    tmp_path: Path, kind: str, body: bytes, code: str
) -> None:
    path = tmp_path / "9f3c.part"
    path.write_bytes(body)
    with pytest.raises(HandinRefused) as refused:
        check_handin(Settings(data_dir=tmp_path), path, kind=kind, filename="my talk.webm")
    found = upload_message(str(refused.value))
    assert found is not None and found.code == code and found.params["file"] == "my talk.webm", (str(refused.value), found)
