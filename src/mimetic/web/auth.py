"""Who is asking: the login cookie, CSRF tokens, login rate limits and the FastAPI dependencies that need a user.

- The login cookie ``mimetic_session`` holds a random token (the database keeps only its SHA-256); it is HttpOnly,
  SameSite=Lax, and Secure when the request came over https or ``MIMETIC_SECURE_COOKIES=1``.
- Every form that changes something carries a hidden ``csrf_token`` (fetch: header ``X-CSRF-Token``; WebSocket:
  the first message). Logged in, the token is the one bound to the login; before login (the login and register
  forms) it is a double-submit token: the same random value in the form and in the HttpOnly cookie ``mimetic_csrf``.
- Password attempts are counted per email address and per IP address in a sliding window, atomically before the
  password is checked (a right one is given back); past the limit the server answers 429 with ``Retry-After``
  until the window has passed.

``current_user(request)`` reads the cookie (once per request); ``require_user`` sends pages to
``/login?next=<path>`` and answers the API with 401; ``require_role("clinician")`` answers 403 to the others.
"""

from __future__ import annotations

import hmac
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.requests import HTTPConnection

from mimetic.store.accounts import UserRecord
from mimetic.web.errors import ApiError, error_body
from mimetic.web.responses import JSONResponse

SESSION_COOKIE = "mimetic_session"
CSRF_COOKIE = "mimetic_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_NOBODY = object()


# -- the login ---------------------------------------------------------------------------------------------------
def session_token(conn: HTTPConnection) -> str | None:
    return conn.cookies.get(SESSION_COOKIE) or None


def login_of(conn: HTTPConnection) -> tuple[UserRecord, str] | None:
    """(user, CSRF token) of the request's live login, or None; looked up once per request."""
    cached = getattr(conn.state, "mimetic_login", _NOBODY)
    if cached is not _NOBODY:
        return cached
    token = session_token(conn)
    accounts = getattr(conn.app.state.services, "accounts", None)
    found = accounts.user_for_token(token) if token and accounts is not None else None
    conn.state.mimetic_login = found
    return found


def current_user(conn: HTTPConnection) -> UserRecord | None:
    """The logged-in user, or None."""
    found = login_of(conn)
    return found[0] if found else None


def forget_login(conn: HTTPConnection) -> None:
    """Drop the cached login of this request (after logging in or out in it)."""
    conn.state.mimetic_login = _NOBODY


class LoginRequired(Exception):
    """Raised by :func:`require_user`; pages get a redirect to the login page, the API a 401."""


def _wants_json(conn: HTTPConnection) -> bool:
    return conn.url.path.startswith("/api/") or conn.scope.get("type") == "websocket"


def require_user(request: Request) -> UserRecord:
    """A dependency: the logged-in user, else a redirect to ``/login?next=...`` (pages) or 401 (API)."""
    user = current_user(request)
    if user is None:
        raise LoginRequired()
    return user


def require_role(role: str) -> Callable[[Request], UserRecord]:
    """A dependency factory: the logged-in user when they have ``role``, else 403 (or the login redirect)."""

    def dependency(request: Request) -> UserRecord:
        user = require_user(request)
        if user.role != role:
            raise ApiError(403, f"this page is for {role}s only", code="forbidden")
        return user

    dependency.__name__ = f"require_{role}"
    return dependency


def login_url(conn: HTTPConnection) -> str:
    """``/login?next=<this page>`` (a form's target is not a page to come back to: then no ``next``)."""
    if conn.scope.get("method", "GET") not in ("GET", "HEAD"):
        return "/login"
    target = conn.url.path + (f"?{conn.url.query}" if conn.url.query else "")
    return f"/login?next={quote(target, safe='/')}"


def safe_next(value: str | None, default: str = "/practice") -> str:
    """``value`` when it is a path on this site (``/...``, not ``//host`` or ``/\\host``), else ``default``."""
    if not value or not isinstance(value, str) or len(value) > 2000:
        return default
    if not value.startswith("/") or value.startswith("//") or value.startswith("/\\"):
        return default
    if any(ord(c) < 32 or c == "\\" for c in value):
        return default
    return value


# -- cookies -----------------------------------------------------------------------------------------------------
def secure_cookies(conn: HTTPConnection) -> bool:
    return conn.url.scheme in ("https", "wss") or bool(conn.app.state.services.settings.secure_cookies)


def set_login_cookie(request: Request, response: Response, token: str) -> None:
    settings = request.app.state.services.settings
    response.set_cookie(SESSION_COOKIE, token, max_age=int(settings.session_lifetime), path="/", httponly=True,
                        samesite="lax", secure=secure_cookies(request))


def clear_login_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure_cookies(request))


# -- CSRF --------------------------------------------------------------------------------------------------------
def csrf_token(conn: HTTPConnection) -> str:
    """The CSRF token for forms on this page: the login's, or before login the double-submit cookie's (made here
    when missing; :func:`apply_cookies` sets it on the response)."""
    found = login_of(conn)
    if found:
        return found[1]
    token = conn.cookies.get(CSRF_COOKIE) or getattr(conn.state, "mimetic_new_csrf", None)
    if not token or len(token) > 100:
        token = secrets.token_urlsafe(32)
        conn.state.mimetic_new_csrf = token
    return token


def apply_cookies(request: Request, response: Response) -> Response:
    """Set the pre-login CSRF cookie on ``response`` when :func:`csrf_token` made a new one for this request."""
    token = getattr(request.state, "mimetic_new_csrf", None)
    if token:
        response.set_cookie(CSRF_COOKIE, token, path="/", httponly=True, samesite="lax",
                            secure=secure_cookies(request))
    return response


def csrf_ok(conn: HTTPConnection, given: str | None, *, pre_login: bool = False) -> bool:
    """Whether ``given`` is the request's CSRF token: the one bound to its login, or, where ``pre_login`` (the
    login and register forms), the double-submit cookie's."""
    if not given or not isinstance(given, str) or len(given) > 200:
        return False
    found = login_of(conn)
    if found and hmac.compare_digest(given.encode(), found[1].encode()):
        return True
    if found is None or pre_login:
        cookie = conn.cookies.get(CSRF_COOKIE)
        return bool(cookie) and hmac.compare_digest(given.encode(), cookie.encode())
    return False


async def given_csrf(request: Request) -> str | None:
    """The token the request carries: header ``X-CSRF-Token``, else the form field ``csrf_token``."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


CSRF_MESSAGE = ("the form's security token is missing or out of date (CSRF check): reload the page and try again; "
                "cookies must be enabled")


async def check_csrf(request: Request) -> None:
    """A dependency for anything that changes state: 403 unless the request carries the login's CSRF token."""
    if not csrf_ok(request, await given_csrf(request)):
        raise ApiError(403, CSRF_MESSAGE, code="csrf")


async def check_csrf_pre_login(request: Request) -> None:
    """Like :func:`check_csrf`, also accepting the pre-login double-submit token (login and register forms)."""
    if not csrf_ok(request, await given_csrf(request), pre_login=True):
        raise ApiError(403, CSRF_MESSAGE, code="csrf")


# -- rate limits -------------------------------------------------------------------------------------------------
class RateLimiter:
    """At most ``limit`` events per key within ``window`` seconds (a sliding window, in memory, thread-safe)."""

    def __init__(self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic):
        self.limit = max(1, int(limit))
        self.window = float(window)
        self.clock = clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _fresh(self, key: str, now: float) -> deque[float]:
        q = self._events.get(key)
        if q is None:
            return deque()
        while q and q[0] <= now - self.window:
            q.popleft()
        if not q:
            self._events.pop(key, None)
        return q

    def retry_after(self, key: str) -> float:
        """0 when another event is allowed now, else the seconds until it is."""
        with self._lock:
            now = self.clock()
            q = self._fresh(key, now)
            return 0.0 if len(q) < self.limit else max(0.0, q[0] + self.window - now)

    def hit(self, key: str) -> None:
        with self._lock:
            self._record(key, self.clock())

    def _record(self, key: str, now: float) -> None:
        q = self._fresh(key, now)
        q.append(now)
        self._events[key] = q
        if len(self._events) > 100_000:  # never grow without bound: forget the oldest keys
            for k in list(self._events)[:10_000]:
                self._events.pop(k, None)

    def take(self, key: str) -> float:
        """Check and count one event in one step: 0 when it was allowed (and is now counted), else the seconds
        until one is. Parallel callers can never all pass the check before any of them is counted."""
        with self._lock:
            now = self.clock()
            q = self._fresh(key, now)
            if len(q) >= self.limit:
                return max(0.0, q[0] + self.window - now)
            self._record(key, now)
            return 0.0

    def give_back(self, key: str) -> None:
        """Uncount the latest event of ``key`` (an attempt that turned out not to count)."""
        with self._lock:
            q = self._events.get(key)
            if q:
                q.pop()
                if not q:
                    self._events.pop(key, None)

    def reset(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)


class LoginLimiter:
    """Password attempts per email address and per IP address; registrations per IP address.

    An attempt is counted *before* its password is checked (:meth:`attempt`, atomic), so parallel requests cannot
    all be checked before the first failure is counted; a right password gives the attempt back
    (:meth:`succeeded`) and clears the address's count.
    """

    def __init__(self, settings):
        self.email = RateLimiter(settings.login_attempts, settings.login_window)
        self.ip = RateLimiter(settings.login_attempts_ip, settings.login_window)
        self.register = RateLimiter(settings.register_attempts_ip, settings.register_window)

    def attempt(self, ip: str, email: str) -> float:
        """0 when a password may be checked now (the attempt is counted), else the seconds to wait (429)."""
        wait = self.ip.take(ip)
        if wait:
            return wait
        wait = self.email.take(email.strip().lower())
        if wait:
            self.ip.give_back(ip)
        return wait

    def succeeded(self, ip: str, email: str) -> None:
        """The attempt's password was right: it does not count against the address, and the email's count ends."""
        self.ip.give_back(ip)
        self.email.reset(email.strip().lower())

    def not_checked(self, ip: str, email: str) -> None:
        """The attempt ended before its password was checked (e.g. the new passwords differ): uncount it."""
        self.ip.give_back(ip)
        self.email.give_back(email.strip().lower())


def client_ip(conn: HTTPConnection) -> str:
    """The peer's address (a proxy in front should pass the real one with uvicorn's ``--proxy-headers``)."""
    return conn.client.host if conn.client else "unknown"


def too_many(seconds: float) -> tuple[str, dict[str, str]]:
    """(message, headers) for a 429."""
    minutes = max(1, math.ceil(seconds / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return (f"Too many attempts. For your security, wait {minutes} {unit} and try again.",
            {"Retry-After": str(max(1, math.ceil(seconds)))})


# -- wiring ------------------------------------------------------------------------------------------------------
def install(app: FastAPI) -> None:
    """The handler that turns :class:`LoginRequired` into a redirect (pages) or a 401 (API)."""

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, _exc: LoginRequired) -> Response:
        if _wants_json(request):
            return JSONResponse(error_body(401, "log in first", "unauthenticated"), status_code=401)
        return RedirectResponse(login_url(request), status_code=303)
