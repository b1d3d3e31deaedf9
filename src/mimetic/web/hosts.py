"""Which ``Host`` names the server answers to, and which proxies it believes about the client's address.

- **Host allow-list** (``allowed_hosts``, DNS rebinding): a page of ``evil.example`` whose name is made to resolve
  to 127.0.0.1 reaches a local server *as the same origin* (its ``Origin`` and ``Host`` agree), so the origin check
  alone cannot stop it; the ``Host`` header still names ``evil.example``. :class:`HostCheck` answers any request or
  WebSocket whose ``Host`` is not allowed with 400 (sockets: refused at the handshake, close code 4403), before
  any route runs. Default: a server bound to a loopback address answers only to ``localhost``, ``127.0.0.1`` and
  ``::1``; one bound elsewhere to any name unless ``allowed_hosts`` lists them (set it: ``--allowed-hosts``).
- **Proxy headers** (``forwarded_allow_ips``): ``X-Forwarded-For`` / ``X-Forwarded-Proto`` are believed only from
  the listed proxy addresses (uvicorn's ``ProxyHeadersMiddleware``, installed only then); uvicorn's own handling,
  which trusts 127.0.0.1 by default, is always off (:func:`mimetic.web.serve.uvicorn_options`), so a local client
  cannot pose as many addresses to get around the per-address limits.
"""

from __future__ import annotations

from mimetic.export import dumps
from mimetic.web.errors import error_body

#: the names of this machine a browser on it uses
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
#: the WebSocket close code for a refused Host (as for another origin)
CLOSE_FORBIDDEN = 4403


def _is_loopback(bind: str) -> bool:
    return bind in LOOPBACK_NAMES or bind.startswith("127.")


def host_name(header: str) -> str:
    """The name in a ``Host`` header: lower case, without the port, IPv6 brackets or a final dot."""
    h = header.strip().lower()
    if h.startswith("["):
        return h[1:h.find("]")] if "]" in h else h[1:]
    if h.count(":") == 1:
        h = h.rsplit(":", 1)[0]
    return h.rstrip(".")


def allowed_hosts(settings) -> frozenset[str] | None:
    """The allowed names (``*.example.org`` entries allow its subdomains), or None for any name."""
    raw = (settings.allowed_hosts or "").strip()
    if raw == "*":
        return None
    if raw:
        return frozenset(host_name(h) if not h.strip().startswith("*.") else h.strip().lower()
                         for h in raw.split(",") if h.strip())
    return LOOPBACK_NAMES if _is_loopback(settings.host) else None


def host_allowed(header: str, allowed: frozenset[str] | None) -> bool:
    if allowed is None:
        return True
    name = host_name(header)
    return bool(name) and (name in allowed or any(a.startswith("*.") and name.endswith(a[1:]) for a in allowed))


class HostCheck:
    """ASGI middleware: 400 (HTTP) or a refused handshake (WebSocket, 4403) for a ``Host`` not allowed."""

    def __init__(self, app, allowed: frozenset[str] | None):
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] in ("http", "websocket") and self.allowed is not None:
            header = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"host"), "")
            if not host_allowed(header, self.allowed):
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": CLOSE_FORBIDDEN, "reason": "host not allowed"})
                    return
                body = dumps(error_body(400, f"this server does not answer to the host name {header[:100]!r} "
                                             "(not allowed: see the allowed_hosts setting, --allowed-hosts)")).encode()
                await send({"type": "http.response.start", "status": 400,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def install(app, settings) -> None:
    """The Host check, and the proxy-header middleware when ``forwarded_allow_ips`` names proxies (outermost, so
    every route sees the client's address)."""
    app.add_middleware(HostCheck, allowed=allowed_hosts(settings))
    proxies = (settings.forwarded_allow_ips or "").strip()
    if proxies:
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=[p.strip() for p in proxies.split(",") if p.strip()])
