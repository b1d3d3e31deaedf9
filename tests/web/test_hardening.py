"""Issue 18, the web half: each defect the hostile test found, reproduced, and kept fixed (docs/web.md, "Security").

R3 one data directory, one server; R5 a full disk answers 507 and leaves nothing half-written; S1 the login limit
holds under parallel attempts; S2 results made by a logged-in user are theirs; S3 photo uploads are bounded before
their body is read; S4 X-Forwarded-For only from configured proxies; S5 Host allow-list on pages, API and sockets;
S6 deeply nested or huge JSON on a socket; S7 hostile names in every page's script block; S8 a practice socket ends
with its login; S9 a frame over 4 MB answers 413 and the session goes on.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from starlette.websockets import WebSocketDisconnect
from test_accounts import CHEAP, PW, another, csrf_of, invite, login, post, register, user_of
from webtools import IMAGES, VIDEOS, LiveServer, free_port, make_settings

from mimetic.web import framesocket

ASTRONAUT = (IMAGES / "astronaut_nasa.jpg").read_bytes()
SINGLE = VIDEOS / "single_face.mp4"
HOSTILE = "</script><!--<script>"


def error_of(response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.text[:300])
    body = response.json()
    assert body["error"]["status"] == status and body["error"]["message"]
    return body["error"]["message"]


def socket_login(client, email: str) -> dict[str, str]:
    accounts = client.app.state.services.accounts
    user = accounts.create_user(email, "correct horse battery staple", role="patient")
    token, csrf = accounts.start_login(user.id)
    return {"Cookie": f"mimetic_session={token}", "csrf": csrf, "token": token}


def closed_with(ws) -> int:
    with pytest.raises(WebSocketDisconnect) as info:
        for _ in range(5):
            ws.receive_json()
    return info.value.code


# -- R3: one data directory, one server ----------------------------------------------------------------------------
def test_a_second_server_on_the_same_data_directory_is_refused(client_factory, settings_factory):
    from fastapi.testclient import TestClient

    from mimetic.web.app import create_app
    from mimetic.web.datalock import DataDirBusy

    first = client_factory()
    job = first.post("/api/v1/jobs", content=(VIDEOS / "smile_pexels.mp4").read_bytes()).json()
    deadline = time.monotonic() + 60
    while first.get(f"/api/v1/jobs/{job['id']}").json()["status"] == "queued" and time.monotonic() < deadline:
        time.sleep(0.05)
    second = TestClient(create_app(settings_factory(port=8123), warm=False))
    with pytest.raises(DataDirBusy) as info:
        second.__enter__()
    message = str(info.value)
    assert "another Mimetic server" in message and str(first.app.state.settings.data_dir) in message
    assert "--data-dir" in message
    now = first.get(f"/api/v1/jobs/{job['id']}").json()
    assert now["status"] in ("running", "done") and now["error"] is None, now
    assert any(first.app.state.services.runner.folder(job["id"]).iterdir())


def test_mimetic_serve_twice_says_why_and_exits(tmp_path):
    import sys

    data = tmp_path / "data"
    from mimetic.web.datalock import DataDirLock

    with DataDirLock(data, "http://127.0.0.1:9"):
        exe = Path(sys.executable).with_name("mimetic")
        cmd = [str(exe) if exe.exists() else sys.executable, *([] if exe.exists() else ["-m", "mimetic.cli"]),
               "serve", "--port", str(free_port()), "--data-dir", str(data)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done
    assert "another Mimetic server" in done.stderr and "Traceback" not in done.stderr + done.stdout


# -- R5: a full disk -----------------------------------------------------------------------------------------------
@pytest.fixture
def tiny_disk(tmp_path):
    """A 6 MB tmpfs (needs root: CI runs as root; skipped otherwise); unmounted at the end."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path, leave: int) -> Path:
    """Fill the file system of ``folder`` up to ``leave`` free bytes."""
    import os

    filler = folder / "filler.bin"
    st = os.statvfs(folder)
    with open(filler, "wb") as fh:
        fh.write(b"\0" * max(0, st.f_bavail * st.f_frsize - leave))
    return filler


def test_a_full_disk_answers_507_and_leaves_nothing_half_written(client_factory, tiny_disk):
    c = client_factory(make_settings(tiny_disk / "data"))
    images = c.app.state.services.images.root
    jobs = c.app.state.services.runner.root
    fill(tiny_disk, 150_000)
    r = c.post("/api/v1/images", content=ASTRONAUT)
    assert "the server's disk is full" in error_of(r, 507) and r.json()["error"]["code"] == "disk_full"
    assert [p.name for p in images.iterdir() if p.name != ".incoming"] == []
    assert list((images / ".incoming").iterdir()) == []
    r = c.post("/api/v1/jobs", content=SINGLE.read_bytes())
    assert "the server's disk is full" in error_of(r, 507)
    assert list(jobs.iterdir()) == []
    assert c.get("/api/v1/health").json()["status"] == "ok"


def test_what_counts_as_a_full_disk(tmp_path):
    import errno
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from mimetic.web.errors import disk_full

    assert disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert disk_full(OSError(errno.EDQUOT, "Disk quota exceeded"))
    wrapped = OperationalError("INSERT ...", {}, sqlite3.OperationalError("database or disk is full"))
    assert disk_full(wrapped)
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise RuntimeError("writing the overlay failed") from inner
    except RuntimeError as outer:
        assert disk_full(outer)
    assert not disk_full(OSError(errno.EACCES, "Permission denied")) and not disk_full(ValueError("x"))


# -- S1: the login limit under parallel attempts -------------------------------------------------------------------
def test_the_login_limit_holds_under_parallel_attempts(client_factory, monkeypatch):
    c = client_factory(login_attempts=5, login_attempts_ip=1000, **CHEAP)
    accounts = c.app.state.services.accounts
    accounts.create_user("victim@example.org", PW)
    checked = []
    real = accounts.authenticate

    def slow(email, password):  # the password check takes time, as argon2 does with its real costs
        checked.append(password)
        time.sleep(0.3)
        return real(email, password)

    monkeypatch.setattr(accounts, "authenticate", slow)
    token = csrf_of(c.get("/login").text)

    def attempt(n: int) -> int:
        return c.post("/login", data={"email": "victim@example.org", "password": f"wrong guess {n}",
                                      "csrf_token": token}, follow_redirects=False).status_code

    with ThreadPoolExecutor(20) as ex:
        codes = list(ex.map(attempt, range(40)))
    assert len(checked) == 5, f"{len(checked)} of 40 passwords were checked"
    assert codes.count(401) == 5 and codes.count(429) == 35
    # the right password still waits (the limit counts attempts), and a success clears the count later
    assert login(c, "victim@example.org").status_code == 429


def test_a_right_password_does_not_use_up_the_ip_allowance(client_factory):
    c = client_factory(login_attempts_ip=3, **CHEAP)
    register(c, "ana@example.org")
    for _ in range(5):
        post(c, "/logout")
        assert login(c, "ana@example.org").status_code == 303
    assert login(c, "bo@example.org", "wrong password").status_code == 401


# -- S2: results made by a logged-in user are theirs -----------------------------------------------------------------
def test_photo_results_belong_to_the_user_who_made_them(client_factory):
    c = client_factory(**CHEAP)
    register(c, "ana@example.org")
    bo = another(c)
    register(bo, "bo@example.org")
    nobody = another(c)
    mine = c.post("/api/v1/images", params={"keep": "true"}, content=ASTRONAUT).json()
    assert "owner" not in mine and "owner_id" not in mine
    urls = [f"/api/v1/images/{mine['id']}", mine["overlay_url"], mine["files"]["source.jpg"]]
    for url in urls:
        assert c.get(url).status_code == 200
        for other in (bo, nobody):
            assert "no photo analysis" in error_of(other.get(url), 404)
    for other in (bo, nobody):
        error_of(other.delete(f"/api/v1/images/{mine['id']}"), 404)
    assert c.get(urls[0]).status_code == 200
    # an anonymous result stays a capability URL: whoever has its id may read and delete it
    anon = nobody.post("/api/v1/images", params={"render": "false"}, content=ASTRONAUT).json()
    for viewer in (c, bo, nobody):
        assert viewer.get(f"/api/v1/images/{anon['id']}").status_code == 200
    assert bo.delete(f"/api/v1/images/{anon['id']}").status_code == 204
    assert c.delete(f"/api/v1/images/{mine['id']}").status_code == 204


def test_jobs_belong_to_the_user_who_made_them(client_factory):
    c = client_factory(**CHEAP)
    register(c, "ana@example.org")
    bo, nobody = another(c), another(c)
    register(bo, "bo@example.org")
    job = c.post("/api/v1/jobs", params={"fps": 5, "annotate": "false", "jsonl": "false"},
                 content=SINGLE.read_bytes()).json()
    assert "owner_id" not in job
    base = f"/api/v1/jobs/{job['id']}"
    deadline = time.monotonic() + 60
    while c.get(base).json()["status"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.1)
    done = c.get(base).json()
    assert done["status"] == "done"
    for url in (base, f"{base}/events", f"{base}/timeline", done["files"]["frames.csv"]):
        assert c.get(url).status_code == 200
        for other in (bo, nobody):
            assert "no job" in error_of(other.get(url), 404)
    for other in (bo, nobody):
        error_of(other.delete(base), 404)
    assert c.get(base).status_code == 200


def test_deleting_an_account_deletes_its_photos_and_jobs(client_factory):
    c = client_factory(**CHEAP)
    register(c, "ana@example.org")
    photo = c.post("/api/v1/images", params={"render": "false"}, content=ASTRONAUT).json()
    job = c.post("/api/v1/jobs", params={"fps": 5, "annotate": "false"}, content=SINGLE.read_bytes()).json()
    anon = another(c).post("/api/v1/images", params={"render": "false"}, content=ASTRONAUT).json()
    svc = c.app.state.services
    assert post(c, "/account/delete", {"password": PW, "confirm": "yes"}).status_code == 303
    assert not (svc.images.root / photo["id"]).exists() and (svc.images.root / anon["id"]).exists()
    assert svc.store.get(job["id"]) is None and not svc.runner.folder(job["id"]).exists()


# -- S3: photo uploads are bounded before their body is read ----------------------------------------------------------
def _raw_post(url: str, path: str, length: int, body: bytes = b"") -> socket.socket:
    host, port = url.split("//")[1].split(":")
    s = socket.create_connection((host, int(port)), timeout=10)
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: image/jpeg\r\n"
              f"Content-Length: {length}\r\n\r\n".encode() + body)
    return s


def _status(s: socket.socket) -> int:
    head = s.recv(4096).decode("latin-1")
    return int(head.split(" ", 2)[1])


def test_photo_uploads_are_bounded_before_their_body_is_read(settings_factory, tmp_path):
    settings = settings_factory(port=free_port(), max_pending_images=2, host="127.0.0.1")
    with LiveServer(settings) as server:
        pool = server.server.config.app.state.services.image_pool
        deadline = time.monotonic() + 60
        while pool.pending and time.monotonic() < deadline:  # the models' warm-up holds a place while it runs
            time.sleep(0.05)
        # two uploads that have begun and go on slowly hold both places
        slow = [_raw_post(server.url, "/api/v1/images", 19_000_000, b"\xff\xd8" + b"\0" * 1000) for _ in range(2)]
        deadline = time.monotonic() + 20
        while pool.pending < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.pending == 2, "the uploads in progress hold their places"
        t0 = time.monotonic()
        third = _raw_post(server.url, "/api/v1/images", 19_000_000)  # headers only: no byte of its body sent
        assert _status(third) == 503 and time.monotonic() - t0 < 5
        incoming = server.settings.data_dir / "images" / ".incoming"
        assert sum(p.stat().st_size for p in incoming.iterdir()) <= 2 * 1002, "uploads spool to disk"
        for s in (*slow, third):
            s.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            import httpx

            r = httpx.post(f"{server.url}/api/v1/images", params={"render": "false"}, content=ASTRONAUT, timeout=60)
            if r.status_code != 503:
                break
            time.sleep(0.2)
        assert r.status_code == 200, "the places are given back when the uploads end"
        assert list(incoming.iterdir()) == []


# -- S4: X-Forwarded-For only from configured proxies ---------------------------------------------------------------
def _failed_logins_from(url: str, forwarded: list[str]) -> list[int]:
    import httpx

    with httpx.Client(base_url=url, timeout=30) as h:
        token = csrf_of(h.get("/login").text)
        return [h.post("/login", data={"email": f"u{n}@example.org", "password": "wrong password",
                                       "csrf_token": token}, headers={"X-Forwarded-For": ip}).status_code
                for n, ip in enumerate(forwarded)]


def test_forwarded_for_is_ignored_unless_configured(settings_factory):
    fake = [f"203.0.113.{n}" for n in range(5)]
    with LiveServer(settings_factory(port=free_port(), login_attempts_ip=3, **CHEAP)) as server:
        assert _failed_logins_from(server.url, fake) == [401, 401, 401, 429, 429]


def test_forwarded_for_from_a_configured_proxy_is_the_client(settings_factory, client_factory):
    fake = [f"203.0.113.{n}" for n in range(5)]
    with LiveServer(settings_factory(port=free_port(), login_attempts_ip=3, forwarded_allow_ips="127.0.0.1",
                                     **CHEAP)) as server:
        assert _failed_logins_from(server.url, fake) == [401] * 5
    # the TestClient's peer ("testclient") is not the configured proxy: its X-Forwarded-For is not believed
    c = client_factory(forwarded_allow_ips="10.0.0.1", login_attempts_ip=3, **CHEAP)
    token = csrf_of(c.get("/login").text)
    codes = [c.post("/login", data={"email": f"u{n}@example.org", "password": "wrong password", "csrf_token": token},
                    headers={"X-Forwarded-For": ip}, follow_redirects=False).status_code for n, ip in enumerate(fake)]
    assert codes == [401, 401, 401, 429, 429]


def test_serve_never_lets_uvicorn_trust_proxy_headers(monkeypatch, settings_factory):
    import uvicorn

    from mimetic.web import serve as serve_module

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw))
    serve_module.serve(settings_factory(port=free_port()))
    assert seen["proxy_headers"] is False and seen["ws_max_size"] >= 16 * 1024 * 1024


# -- S5: the Host allow-list (DNS rebinding) -------------------------------------------------------------------------
def test_a_rebound_host_is_refused_on_pages_api_and_sockets(client_factory):
    c = client_factory()
    assert "not allowed" in error_of(c.get("http://evil.example:8000/api/v1/health"), 400)
    assert c.get("http://evil.example:8000/photo").status_code == 400
    # a page of the rebound name passes the Origin check (same host), so the socket needs the Host check
    with pytest.raises(WebSocketDisconnect) as info:
        with c.websocket_connect("ws://evil.example:8000/api/v1/live",
                                 headers={"Origin": "http://evil.example:8000"}) as ws:
            ws.receive_json()
    assert info.value.code == framesocket.CLOSE_FORBIDDEN
    for host in ("127.0.0.1:8000", "localhost", "[::1]:8000"):
        assert c.get(f"http://{host}/api/v1/health").status_code == 200
    with c.websocket_connect("ws://localhost:8000/api/v1/live", headers={"Origin": "http://localhost:8000"}) as ws:
        assert ws.receive_json()["type"] == "ready"
    with c.websocket_connect("ws://localhost:8000/api/v1/live", headers={"Origin": "http://evil.example"}) as ws:
        assert ws.receive_json()["status"] == 403 and closed_with(ws) == framesocket.CLOSE_FORBIDDEN


def test_allowed_hosts_setting(client_factory, tmp_path):
    c = client_factory(allowed_hosts="mimetic.clinic.example,*.ward.example")
    assert c.get("http://mimetic.clinic.example/api/v1/health").status_code == 200
    assert c.get("http://mimetic.ward.example:443/api/v1/health").status_code == 200
    error_of(c.get("http://127.0.0.1:8000/api/v1/health"), 400)
    error_of(c.get("http://ward.example.evil.example/api/v1/health"), 400)
    anywhere = client_factory(make_settings(tmp_path / "elsewhere", allowed_hosts="*"))
    assert anywhere.get("http://whatever.example/api/v1/health").status_code == 200


# -- S6: JSON on a socket: bounded size and depth ---------------------------------------------------------------------
@pytest.mark.parametrize("page", ["live", "practice"])
def test_deep_or_huge_json_gets_an_error_and_the_session_goes_on(client_factory, page):
    c = client_factory()
    who = socket_login(c, f"deep-{page}@example.org")
    with c.websocket_connect(f"/api/v1/{page}", headers={"Cookie": who["Cookie"]}) as ws:
        assert ws.receive_json()["type"] == "ready"
        ws.send_text("[" * 200_000 + "]" * 200_000)
        big = ws.receive_json()
        assert big["type"] == "error" and big["status"] == 413, big
        ws.send_text('{"type": "ping", "x": ' + "[" * 5000 + "]" * 5000 + "}")
        deep = ws.receive_json()
        assert deep["type"] == "error" and deep["status"] == 422 and "nested" in deep["message"], deep
        ws.send_json({"type": "ping"})
        assert ws.receive_json()["type"] == "pong"


# -- S7: hostile names in every page's script block -------------------------------------------------------------------
def _boot(html: str) -> str:
    m = re.search(r'<script type="application/json" id="boot">(.*?)</script>', html, re.S)
    assert m, "no boot block"
    return m.group(1)


def test_hostile_display_names_are_escaped_in_every_page(client_factory):
    c = client_factory(**CHEAP)
    register(c, "ana@example.org", name=HOSTILE)
    dr = another(c)
    register(dr, "dr@clinic.example", role="clinician", name=HOSTILE + "&\u2028'\"")
    post(c, "/account/link", {"code": invite(dr)})
    ana_id = user_of(c, "ana@example.org").id
    pages = [(c, p) for p in ("/photo", "/video", "/live", "/practice", "/history", "/account")]
    pages += [(dr, p) for p in ("/photo", "/clinician", f"/clinician/patients/{ana_id}", "/account")]
    for who, path in pages:
        r = who.get(path)
        assert r.status_code == 200, path
        block = _boot(r.text)
        # HTML's rule for script contents: no "<!--", "<script" or "</script" (here: no "<" at all)
        assert "<" not in block and ">" not in block, (path, block[block.find("<") - 40:block.find("<") + 40])
        boot = json.loads(block)
        assert boot["user"]["name"].startswith(HOSTILE), path
        assert r.text.rstrip().endswith("</html>") and 'class="footer"' in r.text


# -- S8: a practice socket ends with its login -------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["logout", "password change"])
def test_an_open_practice_socket_stops_at_logout(client_factory, how):
    c = client_factory(**CHEAP)
    who = socket_login(c, "ana@example.org")
    accounts = c.app.state.services.accounts
    with c.websocket_connect("/api/v1/practice", headers={"Cookie": who["Cookie"]}) as ws:
        assert ws.receive_json()["type"] == "ready"
        ws.send_json({"type": "start", "routine": "smile", "reps": 1, "csrf": who["csrf"]})
        assert ws.receive_json()["type"] == "started"
        ws.send_bytes(ASTRONAUT)
        assert ws.receive_json()["type"] == "feedback"
        if how == "logout":
            accounts.end_login(who["token"])
        else:
            accounts.end_all_logins(user_of(c, "ana@example.org").id)
        ws.send_bytes(ASTRONAUT)
        ended = ws.receive_json()
        assert ended["type"] == "error" and ended["status"] == 401 and "log in" in ended["message"], ended
        assert closed_with(ws) == framesocket.CLOSE_UNAUTHENTICATED


# -- S9: a frame over 4 MB ----------------------------------------------------------------------------------------------
def test_a_frame_over_4_mb_answers_413_and_the_session_goes_on(settings_factory):
    from websockets.sync.client import connect

    with LiveServer(settings_factory(port=free_port())) as server:
        with connect(f"ws://127.0.0.1:{server.settings.port}/api/v1/live", max_size=None) as ws:
            assert json.loads(ws.recv())["type"] == "ready"
            ws.send(b"\xff\xd8" + b"\0" * (5 * 1024 * 1024))
            too_big = json.loads(ws.recv(timeout=30))
            assert too_big["type"] == "error" and too_big["status"] == 413 and too_big["seq"] == 1, too_big
            ws.send(ASTRONAUT)
            reply = json.loads(ws.recv(timeout=60))
            assert reply["type"] == "result" and reply["seq"] == 2 and reply["faces"]
