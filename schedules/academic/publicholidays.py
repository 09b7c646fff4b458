"""A country's public holidays for one academic year, from the maintained ``holidays`` library.

    year = country_year("KZ", None, date(2026, 9, 1), date(2027, 8, 31),
                        teaching_weekdays=frozenset(range(5)), languages=("kk", "en"))
    for day in year.days: print(day.day, day.kind, day.name)

The library (python-holidays, pinned exactly in pyproject.toml) knows each
country's holidays, the rule that moves a day off from a weekend, its decree
transfers and which lunar dates are only estimated. It models a five-day
week. For an institution that teaches on a day the country treats as weekend
(Saturday in a six-day week), that day is a working day: a holiday on it gives
no day off elsewhere, and a move "to the next working day" may land on it.
That is done by a subclass of the country's class (``_institution_class``)
whose two hooks reach into the library's private methods; the exact pin and
``tests/schedules/academic/test_publicholidays.py`` guard them.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import date
from functools import cache

import holidays

LIBRARY = f"holidays {holidays.__version__}"
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

HOLIDAY = "holiday"
MOVED = "moved"  # a day off moved from a rest day by the country's rule
DECREE = "decree"  # a day off the library lists as a decree transfer


class UnknownCountry(ValueError):
    """The library does not know this country code; the message says how to find the codes."""


class UnknownSubdivision(ValueError):
    """The country has no such subdivision in the library; the message lists them or says how."""


@dataclass(frozen=True, slots=True)
class PublicDay:
    """One day off from the country's list.

    ``names`` pairs each calendar language the library has with the name in it
    (or the library's own language when it has none of them). ``work_day`` is
    the weekend day worked instead, for a decree transfer.
    """

    day: date
    names: tuple[tuple[str, str], ...]
    kind: str  # HOLIDAY, MOVED or DECREE
    estimated: bool = False
    work_day: date | None = None

    @property
    def name(self) -> str:
        return self.names[0][1]


@dataclass(frozen=True, slots=True)
class DecreeWorkDay:
    """A weekend day the country's decree makes a working day, in exchange for ``off``."""

    day: date
    off: date
    names: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class CountryYear:
    """What the country's list gives one institution for one academic year."""

    country: str  # the code as the library spells it (KZ)
    subdivision: str | None
    days: tuple[PublicDay, ...]
    work_days: tuple[DecreeWorkDay, ...]
    not_applied: tuple[str, ...]  # decree transfers skipped, worded for `calendar check`
    rule: str
    languages: tuple[str, ...]  # calendar languages the names were found in


@dataclass(frozen=True, slots=True)
class CountryInfo:
    """A country the library knows, for ``aulacast calendar countries``."""

    code: str
    name: str
    subdivisions: tuple[str, ...]
    languages: tuple[str, ...]
    default_language: str | None
    subdivision_names: tuple[str, ...] = ()  # aligned with ``subdivisions``; "" when the library has none


def country_year(
    country: str,
    subdivision: str | None,
    start: date,
    end: date,
    *,
    teaching_weekdays: frozenset[int],
    languages: tuple[str, ...] = (),
) -> CountryYear:
    """The public holidays of ``country`` (and ``subdivision``) between ``start`` and ``end`` inclusive.

    ``teaching_weekdays`` decides which of the country's weekend days are
    working days for this institution; ``languages`` (ISO 639 codes, preferred
    first) choose the names. Raises UnknownCountry / UnknownSubdivision.
    """
    code = _country_code(country)
    cls = _country_class(code, subdivision)
    years = tuple(range(start.year, end.year + 1))
    probe = cls(years=(), subdiv=subdivision, language=_fixed_language(cls))
    weekend = frozenset(probe.weekend)
    working = frozenset(teaching_weekdays) & weekend
    lib_langs = _library_languages(cls, languages)

    # Unmoved list (classifies each day) and the institution's own list in each language.
    base = cls(years=years, subdiv=subdivision, observed=False, language=_fixed_language(cls))
    own_cls = _institution_class(cls, working) if working else cls
    named = [(label, own_cls(years=years, subdiv=subdivision, language=lang)) for label, lang in lib_langs]
    first = named[0][1]

    pairs = _decree_pairs(base, start, end)
    skipped_off: set[date] = set()
    not_applied: list[str] = []
    work_days: list[DecreeWorkDay] = []
    for off, work in pairs:
        if work.weekday() in teaching_weekdays:
            skipped_off.add(off)
            not_applied.append(
                f"{_day(off)} off / {_day(work)} worked: {WEEKDAY_NAMES[work.weekday()]} is already a teaching day here"
            )
        elif start <= work <= end:
            work_days.append(DecreeWorkDay(work, off, _names(named, off)))
    work_of = dict(pairs)

    days: list[PublicDay] = []
    for day in sorted(first):
        if not start <= day <= end or day in skipped_off:
            continue
        if day in work_of:
            kind = DECREE
        elif day in base:
            kind = HOLIDAY
        else:
            kind = MOVED
        estimated = _is_estimated(first, first[day])
        days.append(PublicDay(day, _names(named, day), kind, estimated, work_of.get(day)))

    return CountryYear(
        country=code,
        subdivision=subdivision,
        days=tuple(days),
        work_days=tuple(work_days),
        not_applied=tuple(not_applied),
        rule=_describe_rule(probe, working),
        languages=tuple(label for label, _ in lib_langs if label in languages),
    )


def countries() -> list[CountryInfo]:
    """Every country the pinned library knows, by code."""
    supported = holidays.list_supported_countries(include_aliases=False)
    localized = holidays.list_localized_countries(include_aliases=False)
    names = _country_names()
    out = []
    for code in sorted(supported):
        cls = _country_class(code, None)
        aliases = cls.get_subdivision_aliases() if hasattr(cls, "get_subdivision_aliases") else {}
        out.append(
            CountryInfo(
                code,
                names.get(code, code),
                tuple(supported[code]),
                tuple(localized.get(code, ())),
                getattr(cls, "default_language", None),
                tuple(", ".join(aliases.get(sub, ())) for sub in supported[code]),
            )
        )
    return out


def country_info(country: str) -> CountryInfo:
    """One country by its code (any case, alpha-2 or alpha-3); raises UnknownCountry."""
    code = _country_code(country)
    return next(c for c in countries() if c.code == code)


# ------------------------------------------------------------------ helpers


def _country_code(country: str) -> str:
    code = country.strip().upper()
    known = holidays.list_supported_countries(include_aliases=True)
    if code in known:
        return _country_class(code, None).country  # alpha-3 aliases to the alpha-2 code
    by_name = {name.lower(): c for c, name in _country_names().items()}
    close = difflib.get_close_matches(country.strip().lower(), list(by_name), n=2, cutoff=0.8)
    hint = " or ".join(f"{by_name[n]} ({_country_names()[by_name[n]]})" for n in close)
    raise UnknownCountry(
        f"{country} is not a country known to {LIBRARY}"
        + (f"; did you mean {hint}?" if hint else "")
        + " (codes are ISO 3166-1, e.g. KZ; `aulacast calendar countries` lists them all)"
    )


@cache
def _country_class(code: str, subdivision: str | None) -> type[holidays.HolidayBase]:
    try:
        instance = holidays.country_holidays(code, subdiv=subdivision, years=())
    except NotImplementedError:
        supported = holidays.list_supported_countries(include_aliases=False)
        cls = type(holidays.country_holidays(code, years=()))
        subs = supported.get(cls.country, [])
        if not subs:
            listed = f"{cls.country} has none in {LIBRARY}"
        elif len(subs) <= 40:
            listed = f"{cls.country} has: {', '.join(subs)}"
        else:
            listed = f"{cls.country} has {len(subs)}"
        raise UnknownSubdivision(
            f"{subdivision} is not a subdivision of {cls.country} ({listed}; "
            f"`aulacast calendar countries {cls.country}` lists them)"
        ) from None
    return type(instance)


def _fixed_language(cls: type[holidays.HolidayBase]) -> str | None:
    """A language the class supports, so names never depend on the machine's locale."""
    supported = tuple(getattr(cls, "supported_languages", ()))
    default = getattr(cls, "default_language", None)
    if default in supported or not supported:
        return default
    return supported[0]


def _library_languages(
    cls: type[holidays.HolidayBase], wanted: tuple[str, ...]
) -> list[tuple[str, str | None]]:
    """(label, library language) for each wanted language the library has; its own language if none."""
    supported = tuple(getattr(cls, "supported_languages", ()))
    out: list[tuple[str, str | None]] = []
    for lang in wanted:
        match = lang if lang in supported else next((s for s in supported if s.split("_")[0] == lang), None)
        if match is not None:
            out.append((lang, match))
    if not out:
        fixed = _fixed_language(cls)
        out.append(((fixed or "").split("_")[0] or "und", fixed))
    return out


@cache
def _institution_class(cls: type[holidays.HolidayBase], working: frozenset[int]) -> type:
    """The country's class for an institution that works on ``working`` weekend days.

    A holiday on such a day is not moved by a "to the next/previous working
    day" rule (it is not a rest day here), and those searches may land on it.
    Fixed shifts (a rule like Saturday → Monday that does not depend on the
    working week) are kept as the library has them.
    """

    class Institution(cls):  # type: ignore[valid-type, misc]
        def _get_weekend(self, dt: date) -> set[int]:
            return {d for d in super()._get_weekend(dt) if d not in working}

        def _get_observed_date(self, dt: date, rule):  # type: ignore[no-untyped-def]
            wd = dt.weekday()
            if wd in working and wd in cls._get_weekend(self, dt) and abs(rule.get(wd) or 0) == 7:
                return dt
            return super()._get_observed_date(dt, rule)

    Institution.__name__ = Institution.__qualname__ = f"{cls.__name__}Institution"
    return Institution


def _decree_pairs(base: holidays.HolidayBase, start: date, end: date) -> list[tuple[date, date]]:
    """(day off, weekend day worked) of the library's decree transfers touching [start, end]."""
    label = getattr(base, "substituted_label", None)
    fmt = getattr(base, "substituted_date_format", None)
    if not label or not fmt:
        return []
    by_name: dict[str, date] = {}
    for day in base:
        for name in base.get_list(day):
            by_name.setdefault(name, day)
    pairs = []
    for work in sorted(base.weekend_workdays):
        name = base.tr(label) % work.strftime(base.tr(fmt))
        off = by_name.get(name)
        if off is not None and (start <= off <= end or start <= work <= end):
            pairs.append((off, work))
    return pairs


def _is_estimated(instance: holidays.HolidayBase, name: str) -> bool:
    text = _estimated_text(instance)
    return bool(text) and text in name


def _estimated_text(instance: holidays.HolidayBase) -> str:
    # The library's own test for an estimated name (ObservedHolidayBase._add_observed).
    return instance.tr(getattr(instance, "estimated_label", "") or "").strip("%s ()（）")


def _names(named: list[tuple[str, holidays.HolidayBase]], day: date) -> tuple[tuple[str, str], ...]:
    out = []
    for label, instance in named:
        name = instance.get(day)
        if name is None:
            continue
        text = _estimated_text(instance)
        if text:
            name = name.replace(f"({text})", "").replace("  ", " ").strip()
        out.append((label, name))
    return tuple(out)


def _describe_rule(probe: holidays.HolidayBase, working: frozenset[int]) -> str:
    rule = getattr(probe, "_observed_rule", None)
    if not rule:
        return f"{LIBRARY} moves no day off for {probe.country}"
    moves = []
    for wd in sorted(rule):
        delta = rule[wd]
        if wd in working and delta is not None and abs(delta) == 7:
            continue
        if delta is None:
            where = "dropped"
        elif abs(delta) == 7:
            where = "next working day" if delta > 0 else "previous working day"
        else:
            where = WEEKDAY_NAMES[(wd + delta) % 7]
        moves.append(f"{WEEKDAY_NAMES[wd]} → {where}")
    since = getattr(probe, "_observed_since", None)
    text = f"a holiday on {', '.join(moves) or 'no day'}" + (f" (since {since})" if since else "")
    if working:
        days = ", ".join(WEEKDAY_NAMES[d] for d in sorted(working))
        text += f"; {days} taught here, so a holiday on it stays where it is"
    return text


def _day(day: date) -> str:
    return f"{WEEKDAY_NAMES[day.weekday()]} {day.isoformat()}"


@cache
def _country_names() -> dict[str, str]:
    from holidays.registry import COUNTRIES

    small = {"and", "of", "the", "da", "y"}
    out = {}
    for module, (_cls, code, *_rest) in COUNTRIES.items():
        words = module.split("_")
        out[code] = " ".join(w if w in small and i else w.capitalize() for i, w in enumerate(words))
    return out
