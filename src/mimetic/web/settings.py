"""Settings of the web app: one frozen object, from defaults, ``MIMETIC_*`` environment variables and the
``mimetic serve`` options (in that order of precedence, lowest first)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

MB = 1024 * 1024


def default_data_dir() -> Path:
    """``$MIMETIC_DATA_DIR``, else ``$XDG_DATA_HOME/mimetic``, else ``~/.local/share/mimetic``."""
    env = os.environ.get("MIMETIC_DATA_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share") / "mimetic"


@dataclass(frozen=True)
class Settings:
    """Everything the app can be told. Sizes in bytes, times in seconds."""

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = field(default_factory=default_data_dir)
    #: SQLAlchemy URL; None: ``$MIMETIC_DATABASE_URL`` or ``sqlite:///<data_dir>/mimetic.db``
    database_url: str | None = None
    #: the ``Host`` names the server answers to, comma-separated (``*.example.org``: its subdomains; ``*``: any);
    #: empty: ``localhost``, ``127.0.0.1`` and ``::1`` when ``host`` is a loopback address, else any (mimetic.web.hosts)
    allowed_hosts: str = ""
    #: proxy addresses whose ``X-Forwarded-For`` / ``X-Forwarded-Proto`` are believed, comma-separated (``*``: any);
    #: empty: none, the peer's address is the client's
    forwarded_allow_ips: str = ""

    max_image_bytes: int = 20 * MB
    max_video_bytes: int = 200 * MB
    max_live_frame_bytes: int = 2 * MB
    #: the largest WebSocket message the server reads at all: a frame between ``max_live_frame_bytes`` and this gets
    #: error 413 and the session goes on; a bigger message closes the socket (1009, message too big)
    max_ws_message_bytes: int = 16 * MB
    #: largest decoded image (width x height); a guard against decompression bombs
    max_image_pixels: int = 50_000_000
    max_live_pixels: int = 4_000_000
    #: longest video accepted, by its container's duration (seconds)
    max_video_seconds: float = 3600.0

    #: the analysis part of one request (image analysis, one live frame)
    request_timeout: float = 60.0
    #: receiving one upload
    upload_timeout: float = 900.0
    #: one video job, from start to end
    job_timeout: float = 3 * 3600.0

    #: threads that analyse photos, each with its own Analyzer
    image_workers: int = 2
    #: photo requests waiting for a worker beyond which the server answers 503
    max_pending_images: int = 16
    #: threads that run video jobs, each with its own Analyzer
    job_workers: int = 1
    #: jobs waiting in the queue beyond which POST /jobs answers 503
    max_queued_jobs: int = 8
    max_live_sessions: int = 16

    #: photo results (overlay, maps, JSON, CSV) are deleted this long after the analysis
    image_ttl: float = 3600.0
    #: finished video jobs and their files are deleted this long after they end (0: kept until deleted)
    job_ttl: float = 7 * 24 * 3600.0
    #: how often expired results are looked for
    janitor_interval: float = 300.0

    max_faces: int = 20
    #: the photo page's default smallest face to search for (pixels); see Analyzer(min_face=)
    min_face: int = 80

    # -- accounts (docs/accounts.md) --
    #: a login lasts this long unless it ends earlier (logout, password change, account deletion)
    session_lifetime: float = 14 * 24 * 3600.0
    #: mark cookies Secure even when the request reached this server over plain http (behind a TLS proxy)
    secure_cookies: bool = False
    #: failed logins for one email address, and from one IP address, within ``login_window`` before 429
    login_attempts: int = 5
    login_attempts_ip: int = 20
    login_window: float = 15 * 60.0
    #: registrations from one IP address within ``register_window`` before 429
    register_attempts_ip: int = 10
    register_window: float = 3600.0
    #: a clinician's invitation code can be used this long
    invitation_lifetime: float = 7 * 24 * 3600.0
    #: argon2id parameters (RFC 9106 low-memory profile: t=3, 64 MiB, p=4); hashes made otherwise are redone at login
    argon2_time_cost: int = 3
    argon2_memory_cost: int = 64 * 1024  # KiB
    argon2_parallelism: int = 4

    @property
    def db_url(self) -> str:
        from mimetic.store.db import default_database_url

        return self.database_url or default_database_url(self.data_dir)

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        """Defaults, then ``MIMETIC_<FIELD>`` environment variables (e.g. ``MIMETIC_MAX_VIDEO_BYTES``), then
        ``overrides`` (``None`` values are ignored)."""
        values = {}
        for f in fields(cls):
            raw = os.environ.get(f"MIMETIC_{f.name.upper()}")
            if raw is None or f.name in ("data_dir",):  # MIMETIC_DATA_DIR is read by default_data_dir
                continue
            values[f.name] = _convert(f.type, raw, f.name)
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "data_dir" in values:
            values["data_dir"] = Path(values["data_dir"]).expanduser()
        return replace(cls(), **values)


def _convert(kind, raw: str, name: str):
    kind = str(kind)
    if kind.startswith("bool"):
        value = raw.strip().lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"MIMETIC_{name.upper()}={raw!r} is not a yes/no value (1 or 0)")
    try:
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            return float(raw)
    except ValueError:
        raise ValueError(f"MIMETIC_{name.upper()}={raw!r} is not a number") from None
    return raw
