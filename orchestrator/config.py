"""One typed settings object, from a TOML file and ``AULACAST_*`` environment variables.

    settings = load_settings()            # ./aulacast.toml or $AULACAST_CONFIG, then env
    settings.database_url                 # sqlite:///var/aulacast.db by default
    print(render_settings(settings))      # effective settings, secrets masked

Environment variables win over the file; nested keys use ``__``
(``AULACAST_LIFECYCLE__LOBBY_MINUTES=15``). A missing or malformed setting is
one ``ConfigError`` line naming the key.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import tomllib
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from media.live.types import MediaConfig
from orchestrator.errors import ConfigError
from orchestrator.grading import AGGREGATION_RULES, Criterion, check_rubric, scale_of

DEFAULT_CONFIG_FILE = "aulacast.toml"


class LifecycleSettings(BaseModel):
    lobby_minutes: float = Field(10, ge=0, le=240, description="lobby opens this long before start")
    reminder_minutes: list[float] = Field(default_factory=lambda: [60, 10])
    grace_minutes: int = Field(15, ge=0, le=240, description="join tokens stay valid this long after the end")
    misfire_grace_seconds: int = Field(3600, ge=1)


class AuthSettings(BaseModel):
    session_hours: int = Field(12, ge=1, le=24 * 30)
    api_token_days: int = Field(30, ge=1, le=366)
    login_attempts_per_minute: int = Field(
        10, ge=1, description="failed sign-ins of one account from one address before each try waits 1, 2, 4 ... s"
    )
    login_attempts_per_address_per_minute: int = Field(30, ge=1, description="sign-in tries of one client address")
    cookie_secure: bool = False


class HttpSettings(BaseModel):
    """How the HTTP server reads requests and whom it believes about the client's address (``[http]``)."""

    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="addresses or networks (CIDR) of reverse proxies whose client-address header is believed",
    )
    client_address_header: str = Field("X-Forwarded-For", description="the header such a proxy sets")
    header_timeout_seconds: float = Field(15.0, gt=0, le=300, description="a client must send its headers within")
    body_timeout_seconds: float = Field(60.0, gt=0, le=3600, description="longest pause between body bytes")

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        for item in v:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
        return v


class IceSettings(BaseModel):
    stun_urls: list[str] = Field(default_factory=list)
    turn_urls: list[str] = Field(default_factory=list)
    turn_secret: SecretStr | None = None
    turn_ttl_seconds: int = Field(3600, ge=60)
    host_addresses: list[str] = Field(
        default_factory=list, description="media server ICE host candidates only from these (multi-homed hosts)"
    )


class ChatSettings(BaseModel):
    max_length: int = Field(2000, ge=1, le=100_000)
    rate_per_second: float = Field(2.0, gt=0)
    burst: int = Field(10, ge=1)


class MediaSettings(BaseModel):
    """The media server's knobs an operator may need (``[media]``); why each exists: media/live/types.py.

    The defaults are MediaConfig's. ICE servers and host addresses are in ``[ice]``, the number of
    worker processes is ``media_workers``.
    """

    model_config = ConfigDict(extra="forbid")

    pli_interval: float = Field(MediaConfig.pli_interval, gt=0, le=10,
                                description="at most one keyframe request per published track per this many s")
    consent_interval: float = Field(MediaConfig.consent_interval, ge=0.1, le=60,
                                    description="s between ICE consent checks (RFC 7675)")
    consent_failures: int = Field(MediaConfig.consent_failures, ge=1, le=1000,
                                  description="consent checks without a reply before a peer counts as gone")
    consent_retransmissions: int = Field(MediaConfig.consent_retransmissions, ge=0, le=6,
                                         description="each check is resent after 0.5, 1, 2 ... s; 0 = aioice's one try")
    udp_receive_buffer: int = Field(MediaConfig.udp_receive_buffer, ge=64 * 1024, le=256 * 2**20,
                                    description="SO_RCVBUF bytes per ICE socket (capped by net.core.rmem_max)")
    video_jitter_packets: int = Field(MediaConfig.video_jitter_packets, ge=32, le=4096,
                                      description="packets of a published video's jitter buffer (a power of two)")
    fanout_slice_packets: int = Field(MediaConfig.fanout_slice_packets, ge=16, le=100_000,
                                      description="packets sent per event-loop turn")
    fanout_backlog_packets: int = Field(MediaConfig.fanout_backlog_packets, ge=1000, le=10_000_000,
                                        description="queued packets beyond which new frames are dropped")  # fmt: skip

    @field_validator("video_jitter_packets")
    @classmethod
    def _power_of_two(cls, v: int) -> int:
        if v & (v - 1):
            raise ValueError("must be a power of two (aiortc's jitter buffer)")
        return v


class SignalingSettings(BaseModel):
    """Socket.IO signaling between nodes (``[signaling]``): docs/operator.md, Rooms."""

    model_config = ConfigDict(extra="forbid")

    heartbeat_seconds: float = Field(3.0, ge=0.1, le=60,
                                     description="node alive marks, media leases and the presence sweep run this often")
    stock_fanout: bool = Field(False, description="python-socketio's own fan-out instead of signaling/fanout.py's "
                                                  "(the benchmark's baseline, or a way out after an upgrade)")
    gc_freeze: bool = Field(True, description="short garbage-collector pauses (signaling/gcpolicy.py)")  # fmt: skip
    max_sockets_per_person: int = Field(5, ge=1, le=100,
                                        description="open Socket.IO connections of one person in one session, per node")  # fmt: skip


# Environment variables read outside Settings before they moved into it: named, so none is ignored silently.
RENAMED_ENVIRONMENT = {
    "AULACAST_ROOM_HEARTBEAT_SECONDS": "AULACAST_SIGNALING__HEARTBEAT_SECONDS",
    "AULACAST_SIGNALING_STOCK_FANOUT": "AULACAST_SIGNALING__STOCK_FANOUT",
    "AULACAST_SIGNALING_GC_FREEZE": "AULACAST_SIGNALING__GC_FREEZE",
    "AULACAST_MEDIA_HOST_ADDRESSES": "AULACAST_ICE__HOST_ADDRESSES (a JSON list)",
}


DEFAULT_SCALE: list[tuple[int, str, float]] = [
    (95, "A", 4.0), (90, "A-", 3.67), (85, "B+", 3.33), (80, "B", 3.0), (75, "B-", 2.67), (70, "C+", 2.33),
    (65, "C", 2.0), (60, "C-", 1.67), (55, "D+", 1.33), (50, "D", 1.0), (0, "F", 0.0),
]


class GradingSettings(BaseModel):
    """Which letter-point scale (§30) grades are given on; what a scale means is ``orchestrator.grading``."""

    scale: str | list[tuple[int, str, float] | tuple[int, str, float, str]] = Field(
        "section30",
        description='"section30" (F 0-49), "section30-fx" (FX 25-49, F 0-24), or rows [minimum, letter, grade_point(, mark)]',
    )
    pass_points: int = Field(50, ge=0, le=100)
    defense_rule: str = Field("mean", description='how committee points become a grade: "mean", "chair" or "majority" (chair decides ties)')
    defense_warning_seconds: int = Field(120, ge=0, le=3600, description="a defense turn's timer warns this long before its end")
    defense_rubric: list[tuple[str, str, int]] = Field(
        default_factory=list, description="optional criteria [id, name, maximum points]; maxima sum to 100")

    @field_validator("defense_rule")
    @classmethod
    def _rule(cls, v: str) -> str:
        if v not in AGGREGATION_RULES:
            raise ValueError(f"unknown rule {v!r}; known: {', '.join(AGGREGATION_RULES)}")
        return v

    @field_validator("defense_rubric")
    @classmethod
    def _rubric(cls, v: list[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
        check_rubric([Criterion(*row) for row in v])
        return v

    @field_validator("scale")
    @classmethod
    def _scale(cls, v: Any) -> Any:
        scale_of(v)  # a ScaleError (ValueError) names what is wrong, reported on this key
        return v


ARCHIVE_KINDS = ("lecture", "consultation", "control", "defense", "presentation", "written_work")

# Days an asset of each kind is kept after its date; 0 keeps it for good (TOML has no null). Defense
# records and students' work follow the usual five-year keeping of attestation records; consultations a year.
DEFAULT_RETENTION: dict[str, int] = {
    "lecture": 0,
    "consultation": 365,
    "control": 1825,
    "defense": 1825,
    "presentation": 1825,
    "written_work": 1825,
}


class ArchiveSettings(BaseModel):
    """The recordings archive: URL lifetimes, retention per asset kind, upload limits (§31)."""

    storage: str = Field("local", description="asset storage backend (local filesystem under media_root)")
    url_ttl_seconds: int = Field(4 * 3600, ge=30, le=7 * 86400, description="signed playback/download URLs expire")
    retention_days: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_RETENTION), description="0 = keep for good")
    default_language: str = Field("ru", description="Dublin Core language when the session names none")
    default_rights: str = "For the students and staff of the institution; no redistribution."
    hls_segment_seconds: float = Field(6.0, ge=1, le=30)
    upload_max_bytes: int = Field(2 * 1024**3, ge=1024, description="Tus-Max-Size: largest presentation video")
    upload_pdf_max_bytes: int = Field(100 * 1024**2, ge=1024, description="largest written work (PDF)")
    upload_max_seconds: float = Field(3600, gt=0, description="longest presentation video accepted")
    upload_max_height: int = Field(2160, ge=144, description="tallest picture accepted (lines)")
    upload_expire_hours: float = Field(24, gt=0, description="an unfinished upload is dropped this long after its last byte")
    archive_height: int = Field(720, ge=144, description="presentations taller than this are scaled down on intake")
    retention_auto: bool = Field(True, description="apply retention once a day on the running service")

    @field_validator("retention_days")
    @classmethod
    def _kinds(cls, v: dict[str, int]) -> dict[str, int]:
        unknown = set(v) - set(ARCHIVE_KINDS)
        if unknown:
            raise ValueError(f"unknown asset kind(s) {sorted(unknown)}; known: {', '.join(ARCHIVE_KINDS)}")
        if any(d < 0 for d in v.values()):
            raise ValueError("retention days must be >= 0 (0 keeps for good)")
        return {**DEFAULT_RETENTION, **v}


class JobSettings(BaseModel):
    """Batch jobs (compose, package, HLS, verify): where they run and how gently (docs/operator.md, "Job workers")."""

    broker: str = Field("auto", description="auto (Redis when redis_url is set, else in-process), redis, or embedded")
    queue: str = Field("aulacast-jobs", description="the Dramatiq queue job messages go to")
    namespace: str = Field("aulacast-dramatiq", description="prefix of the broker's Redis keys")
    concurrency: int = Field(1, ge=1, le=64, description="jobs at once per worker process (and in-process)")
    nice: int = Field(10, ge=0, le=19, description="batch work runs this much below live rooms (worker process and ffmpeg)")
    ffmpeg_threads: int = Field(2, ge=0, le=64, description="encoder threads per job (0 = ffmpeg's choice, one per core)")
    lease_seconds: float = Field(30, ge=3, le=3600, description="a killed worker's job is taken over after this")
    heartbeat_seconds: float = Field(30, ge=3, le=3600, description="the broker requeues a silent worker's messages after this")
    maintenance_chance: int = Field(50_000, ge=1, le=1_000_000, description="broker polls in a million that look for dead workers")
    stop_grace_seconds: float = Field(30, ge=0, description="on SIGTERM a worker lets its running job finish this long")
    compose_on_recording: bool = Field(True, description="compose and archive every recording.ready")

    @field_validator("broker")
    @classmethod
    def _broker(cls, v: str) -> str:
        if v not in ("auto", "redis", "embedded"):
            raise ValueError("must be auto, redis or embedded")
        return v


WEBHOOK_TOPICS = ("recording.ready", "recording.composed", "asset.composed", "asset.archived", "asset.packaged")


class WebhookSettings(BaseModel):
    """Events sent to other systems: POSTed to each URL, signed like LiveKit's webhooks (docs/webhooks.md)."""

    model_config = ConfigDict(extra="forbid")

    urls: list[str] = Field(default_factory=list, description="receivers (http:// or https://); none = no webhooks")
    secret: SecretStr | None = Field(None, description="signs every request (HS256 JWT); required with urls")
    issuer: str = Field("aulacast", min_length=1, description="the JWT's iss claim (LiveKit: the API key)")
    topics: list[str] = Field(default_factory=lambda: list(WEBHOOK_TOPICS), description="bus topics sent")
    timeout_seconds: float = Field(10.0, gt=0, le=300, description="a receiver slower than this counts as failed")
    max_attempts: int = Field(12, ge=1, le=100, description="then the delivery is marked failed")
    backoff_seconds: float = Field(5.0, gt=0, description="first retry after this; doubled at each failure")
    backoff_max_seconds: float = Field(3600.0, gt=0, description="the longest wait between two attempts")
    poll_seconds: float = Field(5.0, gt=0, le=600, description="how often due retries are looked for")

    @field_validator("urls")
    @classmethod
    def _urls(cls, v: list[str]) -> list[str]:
        from urllib.parse import urlsplit

        for url in v:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{url!r} is not an http:// or https:// URL")
            if len(url) > 500:
                raise ValueError(f"{url[:60]!r}...: a webhook URL is at most 500 characters")
        if len(set(v)) != len(v):
            raise ValueError("a URL is listed twice")
        return v

    @model_validator(mode="after")
    def _secret(self) -> WebhookSettings:
        if self.urls and (self.secret is None or len(self.secret.get_secret_value()) < 32):
            raise ValueError("webhooks.urls needs webhooks.secret (at least 32 characters) to sign the requests")
        return self


class TvSettings(BaseModel):
    """The channel the broadcast engineer's page shows (docs/broadcast-engineer.md §8): what each day is built
    from, and where playout leaves its as-run log and its state (``tv playout`` writes both there by default)."""

    model_config = ConfigDict(extra="forbid")

    channel_file: Path | None = Field(None, description="channel file (YAML) each day is built from; none = no channel")
    series_files: list[Path] = Field(default_factory=list, description="series files ('tv series') added to it")
    as_run_log: Path | None = Field(None, description="as-run log (JSON lines) 'tv playout' appends to and the page reads")
    playout_state: Path | None = Field(None, description="small JSON file 'tv playout' keeps current while it sends")


class Settings(BaseSettings):
    """Effective configuration of one aulacast node."""

    model_config = SettingsConfigDict(env_prefix="AULACAST_", env_nested_delimiter="__", extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    public_url: str = ""
    data_dir: Path = Path("var")
    database_url: str = ""
    redis_url: SecretStr | None = None
    secret_key: SecretStr | None = None
    media_root: Path | None = None
    ffmpeg_path: str | None = None
    institution_domain: str = "aulacast.local"
    timezone: str = "Asia/Almaty"
    log_level: str = "INFO"
    scheduler_enabled: bool = True
    media_workers: int = Field(0, ge=0, description="0 = one per core")
    lifecycle: LifecycleSettings = Field(default_factory=LifecycleSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    ice: IceSettings = Field(default_factory=IceSettings)
    media: MediaSettings = Field(default_factory=MediaSettings)
    signaling: SignalingSettings = Field(default_factory=SignalingSettings)
    chat: ChatSettings = Field(default_factory=ChatSettings)
    grading: GradingSettings = Field(default_factory=GradingSettings)
    protocol_key_file: Path | None = Field(
        None, description="Ed25519 private key (PEM) signing defense protocols and audit anchors; default: made once in data_dir")
    audit_anchor_file: Path | None = Field(
        None, description="append-only file the audit chain's head is anchored to, signed; default: data_dir/audit-anchors.jsonl")
    audit_anchor_minutes: float = Field(15, gt=0, description="how often the running service anchors the chain head")
    archive: ArchiveSettings = Field(default_factory=ArchiveSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    tv: TvSettings = Field(default_factory=TvSettings)

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return value.upper()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # init carries the TOML file's values; environment variables override them.
        return (env_settings, init_settings)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'aulacast.db').as_posix()}"

    @property
    def effective_media_root(self) -> Path:
        return self.media_root or self.data_dir / "media"

    @property
    def effective_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def signing_key(self) -> str:
        """The key that signs cookies, API and join tokens.

        Without a configured key one is generated once and kept in the data
        directory, so restarts keep sessions valid and nothing sits in the code.
        """
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(key)
        os.chmod(tmp, 0o600)
        tmp.replace(path)
        return key


def _format_error(exc: ValidationError, source: str) -> str:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"]) or "(root)"
    if err["type"] == "extra_forbidden":
        return f"{source}: unknown setting {key!r}"
    if err["type"] == "missing":
        return f"{source}: missing setting {key!r}"
    value = err.get("input")
    return f"{source}: setting {key!r}: {err['msg']} (got {value!r})"


def load_settings(path: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Read the TOML file (if any) and the environment into one ``Settings``."""
    for old, new in RENAMED_ENVIRONMENT.items():
        if old in os.environ:
            raise ConfigError(f"environment: {old} is now {new}")
    explicit = path or os.environ.get("AULACAST_CONFIG")
    file = Path(explicit) if explicit else Path(DEFAULT_CONFIG_FILE)
    values: dict[str, Any] = {}
    source = "environment"
    if file.exists():
        source = str(file)
        try:
            values = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: malformed TOML: {exc}") from None
    elif explicit:
        raise ConfigError(f"{file}: configuration file not found")
    values.update(overrides)
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise ConfigError(_format_error(exc, source)) from None


SECRET_MASK = "********"


def render_settings(settings: Settings) -> str:
    """The effective settings as TOML-like text, with every secret masked."""

    def dump(model: BaseModel, prefix: str, out: list[str]) -> None:
        nested: list[tuple[str, BaseModel]] = []
        for name in type(model).model_fields:
            value = getattr(model, name)
            if isinstance(value, BaseModel):
                nested.append((name, value))
                continue
            if isinstance(value, SecretStr):
                shown = f'"{SECRET_MASK}"'
            elif isinstance(value, str) and value:
                shown = f'"{_mask_url(value)}"'
            elif isinstance(value, list) and any(isinstance(v, str) for v in value):
                shown = repr([_mask_url(v) if isinstance(v, str) else v for v in value])
            elif value is None:
                shown = '""  # not set'
            elif isinstance(value, str | Path):
                shown = f'"{value}"'
            elif isinstance(value, bool):
                shown = "true" if value else "false"
            else:
                shown = repr(value)
            out.append(f"{name} = {shown}")
        for name, sub in nested:
            out.append("")
            out.append(f"[{prefix}{name}]")
            dump(sub, f"{prefix}{name}.", out)

    lines: list[str] = []
    dump(settings, "", lines)
    url = settings.effective_database_url
    lines.insert(0, f"# effective database: {_mask_url(url)}")
    return "\n".join(lines) + "\n"


_SECRET_KEYS = r"(?:password|passwd|pwd|pass|secret|token|key|sslpassword|sslkey|auth|credential|apikey|api_key)"
_USERINFO = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*:(?://)?)(?P<user>[^:@/\s]*):(?P<pw>[^@\s]*)@")
_OPAQUE_USERINFO = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*:)(?!//)(?P<info>[^@/\s]+)@")
_QUERY_SECRET = re.compile(r"(?i)([?&;]" + _SECRET_KEYS + r"=)[^&;#\s]*")
_KV_SECRET = re.compile(r"(?i)(\b" + _SECRET_KEYS + r"\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)")


def _mask_url(url: str) -> str:
    """Every credential form in a DSN or URL masked: ``user:pw@`` (also ``turn:user:pw@host``),
    secret query parameters (``?password=``), and libpq key/value strings (``password=... ``)."""
    if not url:
        return url
    out = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{SECRET_MASK}@", url)
    if SECRET_MASK not in out:  # turn:secret@host (no user): the whole userinfo
        out = _OPAQUE_USERINFO.sub(lambda m: f"{m['scheme']}{SECRET_MASK}@", out)
    out = _QUERY_SECRET.sub(lambda m: m.group(1) + SECRET_MASK, out)
    if "://" not in out and "=" in out:
        out = _KV_SECRET.sub(lambda m: m.group(1) + SECRET_MASK, out)
    return out
