"""The broadcast engineer's routes (issue 13 §3): the channel's day, its exports, playout status, as-run log.

Every route lets only the broadcast engineer and the admin through (the role gate and
``policy.can_view_channel``); ``aulacast tv schedule build/export``, ``tv status`` and
``tv schedule as-run`` do the same from the command line. The day comes from the configured
channel file (``tv.channel_file``), built as ``tv schedule build`` builds it.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from orchestrator import policy
from orchestrator.api import api, services
from orchestrator.api.schemas import MessageOut
from orchestrator.channel.day_view import as_run_for, channel_day, day_json
from orchestrator.channel.playout_state import playout_status
from orchestrator.http import identity
from schedules.tv.day import Day
from schedules.tv.playlist import AsRunRecord, as_run_csv, day_csv, ffplayout_playlist
from schedules.tv.xmltv import to_xmltv

DATE_QUERY = {"date": "YYYY-MM-DD (default: today in the channel's zone)"}
TAGS = ("tv",)


class ChannelOut(BaseModel):
    id: str = Field(description="XMLTV channel id")
    name: str
    display_names: dict[str, str]
    timezone: str
    languages: list[str]


class DayItemOut(BaseModel):
    index: int
    start: str = Field(description="ISO 8601 with the channel zone's offset")
    end: str
    offset: float = Field(description="seconds from the day's start")
    duration: float = Field(description="seconds")
    kind: Literal["lecture", "repeat", "ident", "clock", "announcement", "loop", "black"]
    type: Literal["programme", "repeat", "filler"]
    title: dict[str, str] = Field(description="language (kk, ru, en...) -> text")
    episode_title: dict[str, str]
    series: str | None
    episode: int | None
    source: str | None = Field(description="media file; null for what playout renders (clock, black)")
    first_shown: str | None = Field(description="a repeat: when the episode first aired")


class ChannelDayOut(BaseModel):
    channel: ChannelOut
    date: str
    start: str
    end: str
    warnings: list[str] = Field(description="what the builder decided for the engineer: gaps, empty slots")
    notes: list[MessageOut] = Field(description="the warnings again, each with its code and quoted values "
                                                "(codes: schedules.tv.fill.WARNINGS)")
    items: list[DayItemOut]


class PlayoutItemOut(BaseModel):
    index: int
    kind: str
    title: dict[str, str]
    episode_title: dict[str, str]
    start: str
    end: str


class PlayoutStatusOut(BaseModel):
    running: bool
    state: Literal["not_configured", "never", "unreadable", "stopped", "waiting", "sending", "finished", "interrupted"]
    message: str = Field(description="the status in one sentence (English; the page words it in the reader's language)")
    current: PlayoutItemOut | None
    next: PlayoutItemOut | None
    channel: str | None = None
    date: str | None = None
    target: str | None = Field(None, description="where playout sends (udp://, srt://)")
    started_at: str | None = None
    updated_at: str | None = None
    index: int | None = None
    items: int | None = None


class AsRunRecordOut(BaseModel):
    channel: str
    start: str
    end: str
    kind: str
    title: str
    source: str | None
    media_in: float
    media_out: float
    status: str = Field(description="played | joined | interrupted | missed | assembled")
    note: str


class AsRunOut(BaseModel):
    date: str
    channel: str
    records: list[AsRunRecordOut]
    message: str = Field(description="empty when there are records; else why there are none")


class FfplayoutOut(BaseModel):
    channel: str
    date: str
    begin: str
    length: str
    program: list[dict[str, Any]]


async def _day(request: web.Request) -> Day:
    policy.can_view_channel(identity(request)).enforce()
    settings = services(request).settings
    return await asyncio.to_thread(channel_day, settings, request.query.get("date"))


def _download(body: bytes | str, day: Day, ext: str, content_type: str) -> web.Response:
    name = f"{re.sub(r'[^A-Za-z0-9._-]', '_', day.channel.id)}-{day.date.isoformat()}.{ext}"
    data = body.encode("utf-8") if isinstance(body, str) else body
    return web.Response(body=data, content_type=content_type, charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


@api.route("GET", "/api/tv/day", roles=policy.BROADCAST, summary="The channel's day: every item with start/end, kind and titles", query=DATE_QUERY, tags=TAGS, response=ChannelDayOut)  # noqa: E501
async def tv_day(request: web.Request) -> dict[str, Any]:
    return day_json(await _day(request))


@api.route("GET", "/api/tv/day.xml", roles=policy.BROADCAST, summary="The channel's day as XMLTV", query=DATE_QUERY, produces="application/xml", tags=TAGS)  # noqa: E501
async def tv_day_xmltv(request: web.Request) -> web.Response:
    day = await _day(request)
    return _download(to_xmltv([day]), day, "xml", "application/xml")


@api.route("GET", "/api/tv/day.ffplayout.json", roles=policy.BROADCAST, summary="The channel's day as an ffplayout daily playlist", query=DATE_QUERY, tags=TAGS, response=FfplayoutOut)  # noqa: E501
async def tv_day_ffplayout(request: web.Request) -> web.Response:
    day = await _day(request)
    return _download(json.dumps(ffplayout_playlist(day), ensure_ascii=False, indent=1), day, "json", "application/json")


@api.route("GET", "/api/tv/day.csv", roles=policy.BROADCAST, summary="The channel's day as CSV, one row per item (formula-safe cells)", query=DATE_QUERY, produces="text/csv", tags=TAGS)  # noqa: E501
async def tv_day_csv(request: web.Request) -> web.Response:
    day = await _day(request)
    return _download(day_csv(day), day, "csv", "text/csv")


@api.route("GET", "/api/tv/playout", roles=policy.BROADCAST, summary="Is playout running, what is on air and what comes next", tags=TAGS, response=PlayoutStatusOut)  # noqa: E501
async def tv_playout(request: web.Request) -> dict[str, Any]:
    policy.can_view_channel(identity(request)).enforce()
    return await asyncio.to_thread(playout_status, services(request).settings.tv.playout_state)


async def _as_run(request: web.Request) -> tuple[Day, dict[str, Any]]:
    day = await _day(request)
    return day, await asyncio.to_thread(as_run_for, services(request).settings, day)


@api.route("GET", "/api/tv/as-run", roles=policy.BROADCAST, summary="What actually aired that day (playout's as-run log)", query=DATE_QUERY, tags=TAGS, response=AsRunOut)  # noqa: E501
async def tv_as_run(request: web.Request) -> dict[str, Any]:
    day, out = await _as_run(request)
    return {"date": day.date.isoformat(), "channel": day.channel.id, **out}


@api.route("GET", "/api/tv/as-run.csv", roles=policy.BROADCAST, summary="The day's as-run log as CSV (formula-safe cells)", query=DATE_QUERY, produces="text/csv", tags=TAGS)  # noqa: E501
async def tv_as_run_csv(request: web.Request) -> web.Response:
    day, out = await _as_run(request)
    return _download(as_run_csv(AsRunRecord(**r) for r in out["records"]), day, "as-run.csv", "text/csv")
