"""Only media/live/aiortc_hooks.py may name a private attribute of aiortc, aioice or pylibsrtp.

Those libraries are pinned to exact versions because the hooks reach into them, and every hook
is guarded (``check_internals`` and tests/media/live/test_aiortc_hooks.py). A private name used
anywhere else would escape both the guard and the review of the next upgrade, so this test
collects every private name the installed libraries define (``self._x`` assignments, ``def _x``,
``class _X``, module and class level ``_x``, class-private ``__x`` as ``_Class__x``) and fails on
any module of the repository that names one: ``expr._x`` where ``expr`` is not ``self``/``cls``
(or is, inside a subclass of a library class), ``getattr``/``setattr``/``hasattr``/``delattr``
(also ``monkeypatch.setattr``) with such a name, ``x(_x=...)`` stand-ins, and imports of private
names or modules of the three libraries.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

from tests.helpers.support import REPO

LIBRARIES = ("aiortc", "aioice", "pylibsrtp")
HOOKS = "media/live/aiortc_hooks.py"
SKIP_DIRS = {".venv", "venv", "var", "node_modules", "__pycache__", "build", "dist"}
ATTRIBUTE_CALLS = {"getattr", "setattr", "hasattr", "delattr"}

# (module, name): the same spelling, but another library's internal, each guarded where it is used.
NOT_THEIRS = {
    ("signaling/fanout.py", "_writer"): "aiohttp WebSocketResponse (tests/signaling/test_fanout.py guards it)",
    ("signaling/fanout.py", "_queue"): "asyncio.Queue of python-engineio (tests/signaling/test_fanout.py)",
    ("signaling/fanout.py", "_closing"): "aiohttp WebSocketWriter (tests/signaling/test_fanout.py guards it)",
    ("tests/signaling/test_fanout.py", "_queue"): "the guard of signaling/fanout.py's asyncio.Queue access",
}


def _private(name: str) -> bool:
    return name.startswith("_") and name != "_" and not (name.startswith("__") and name.endswith("__"))


def _mangle(name: str, classes: list[str]) -> str:
    if name.startswith("__") and not name.endswith("__") and classes and classes[-1].strip("_"):
        return f"_{classes[-1].lstrip('_')}{name}"
    return name


class _Definitions(ast.NodeVisitor):
    """Private names one library module defines."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.classes: list[str] = []
        self.depth = 0  # function nesting: locals are nobody's attributes

    def add(self, name: str) -> None:
        name = _mangle(name, self.classes)
        if _private(name):
            self.names.add(name)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.add(node.name)
        self.classes.append(node.name)
        depth, self.depth = self.depth, 0
        self.generic_visit(node)
        self.depth = depth
        self.classes.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.add(node.name)
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.ctx, ast.Store) and isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
            self.add(node.attr)
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store) and self.depth == 0:
            self.add(node.id)

    def visit_alias(self, node: ast.alias) -> None:
        if self.depth == 0:
            self.add(node.asname or node.name.split(".")[0])


def _library_files(library: str) -> Iterator[Path]:
    spec = importlib.util.find_spec(library)
    assert spec is not None and spec.submodule_search_locations, f"{library} is not installed"
    for location in spec.submodule_search_locations:
        yield from sorted(Path(location).rglob("*.py"))


@functools.cache
def library_private_names() -> frozenset[str]:
    names: set[str] = set()
    for library in LIBRARIES:
        for path in _library_files(library):
            visitor = _Definitions()
            visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
            names |= visitor.names
    return frozenset(names)


def _library_module(module: str | None) -> bool:
    return bool(module) and module.split(".")[0] in LIBRARIES  # type: ignore[union-attr]


class _Uses(ast.NodeVisitor):
    """Where one of our modules names a library's private attribute: (line, name, code)."""

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names
        self.found: list[tuple[int, str, str]] = []
        self.library_classes: set[str] = set()  # names bound to library classes/modules by import
        self.subclass_depth = 0

    def hit(self, node: ast.AST, name: str) -> None:
        self.found.append((getattr(node, "lineno", 0), name, ast.unparse(node)[:80]))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if _library_module(alias.name):
                self.library_classes.add(alias.asname or alias.name.split(".")[0])
                if any(_private(part) for part in alias.name.split(".")):
                    self.hit(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if not _library_module(node.module):
            return
        private_module = any(_private(part) for part in (node.module or "").split("."))
        for alias in node.names:
            self.library_classes.add(alias.asname or alias.name)
            if private_module or _private(alias.name):
                self.hit(node, alias.name)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        derived = any(
            (base.split(".")[0] in self.library_classes) for base in (ast.unparse(b) for b in node.bases)
        )
        self.subclass_depth += derived
        self.generic_visit(node)
        self.subclass_depth -= derived

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in self.names:
            on_self = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
            if not on_self or self.subclass_depth:
                self.hit(node, node.attr)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if called in ATTRIBUTE_CALLS:
            for arg in node.args[:2]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    name = arg.value.rsplit(".", 1)[-1]
                    if name in self.names:
                        self.hit(node, name)
        for keyword in node.keywords:
            if keyword.arg in self.names:
                self.hit(node, keyword.arg)
        self.generic_visit(node)


def private_uses(source: str, filename: str = "<source>") -> list[tuple[int, str, str]]:
    """Every place ``source`` names a private attribute of aiortc, aioice or pylibsrtp."""
    visitor = _Uses(library_private_names())
    visitor.visit(ast.parse(source, filename))
    return visitor.found


def repository_modules() -> Iterator[str]:
    for directory, dirs, files in os.walk(REPO):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS and not d.endswith(".egg-info"))
        for name in sorted(files):
            if name.endswith(".py"):
                yield Path(directory, name).relative_to(REPO).as_posix()


def test_the_libraries_private_names_are_collected() -> None:
    names = library_private_names()
    for expected in ("_ssrc", "_rtx_ssrc", "_connection", "_protocols", "_codecs", "_handle_rtcp_packet",
                     "_RTCRtpSender__packet_count", "_RTCRtpReceiver__decoder_queue", "_nominated", "_srtp"):  # fmt: skip
        assert expected in names


def test_the_finder_sees_each_way_of_naming_one() -> None:
    source = """
import pylibsrtp._binding
from aiortc.mediastreams import MediaStreamTrack
from pylibsrtp import _binding

class Mine(MediaStreamTrack):
    def __init__(self):
        self._id = "x"            # a library class's private, set on ourselves

class Ours:
    def __init__(self):
        self._ssrc = 1            # our own attribute: fine

def f(sender, monkeypatch):
    sender._ssrc
    getattr(sender, "_rtx_ssrc")
    monkeypatch.setattr(sender, "_send_keyframe", None)
    Stand(_RTCRtpSender__packet_count=0)
    sender.ssrc
"""
    found = [(line, name) for line, name, _code in private_uses(source)]
    assert found == [
        (2, "pylibsrtp._binding"), (4, "_binding"), (8, "_id"), (15, "_ssrc"), (16, "_rtx_ssrc"),
        (17, "_send_keyframe"), (18, "_RTCRtpSender__packet_count"),
    ]  # fmt: skip


def test_no_module_outside_the_hooks_names_a_private_attribute_of_aiortc_aioice_or_pylibsrtp() -> None:
    offences: list[str] = []
    excused: set[tuple[str, str]] = set()
    modules = list(repository_modules())
    assert HOOKS in modules and "media/live/rtpforward.py" in modules and "bench/sfu_fanout.py" in modules
    for module in modules:
        if module == HOOKS:
            continue
        for line, name, code in private_uses((REPO / module).read_text(encoding="utf-8"), module):
            if (module, name) in NOT_THEIRS:
                excused.add((module, name))
            else:
                offences.append(f"{module}:{line}: {name} ({code})")
    assert not offences, (
        "only media/live/aiortc_hooks.py may touch aiortc/aioice/pylibsrtp internals (give it a guarded "
        "function and a check in check_internals):\n" + "\n".join(offences)
    )
    assert excused == set(NOT_THEIRS), f"stale NOT_THEIRS entries: {sorted(set(NOT_THEIRS) - excused)}"
