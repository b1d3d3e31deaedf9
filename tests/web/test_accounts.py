"""Accounts in the web app: register, log in and out, passwords, CSRF, rate limits, cookies, invitations and links,
the clinician's page, export, deletion, and that one user can never read or change another's data through these
routes."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

import mimetic.web

WEB = Path(mimetic.web.__file__).resolve().parent
#: argon2 with tiny costs: these tests hash many passwords on a small machine
CHEAP = dict(argon2_time_cost=1, argon2_memory_cost=1024, argon2_parallelism=1)
PW = "a long passphrase"


@pytest.fixture
def app_client(client_factory):
    return client_factory(**CHEAP)


def another(client, **kw):
    """A second browser on the same app (its own cookies)."""
    from fastapi.testclient import TestClient

    return TestClient(client.app, **kw)


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def notices(html: str) -> str:
    """The page's outcome messages (the catalogue itself is in every page's boot JSON, so search only these)."""
    import html as html_lib

    return " | ".join(html_lib.unescape(m) for m in re.findall(r'<p class="notice [a-z]+" role="[a-z]+">(.*?)</p>',
                                                                html, re.S))


def register(c, email, password=PW, role="patient", name="", password2=None):
    token = csrf_of(c.get("/register").text)
    return c.post("/register", data={"email": email, "display_name": name, "password": password,
                                     "password2": password if password2 is None else password2, "role": role,
                                     "csrf_token": token}, follow_redirects=False)


def login(c, email, password=PW, next=""):
    token = csrf_of(c.get("/login").text)
    return c.post("/login", data={"email": email, "password": password, "next": next, "csrf_token": token},
                  follow_redirects=False)


def account_csrf(c) -> str:
    r = c.get("/account")
    assert r.status_code == 200, r.status_code
    return csrf_of(r.text)


def post(c, path, data=None, token=None, **kw):
    data = dict(data or {})
    data["csrf_token"] = token if token is not None else account_csrf(c)
    return c.post(path, data=data, follow_redirects=False, **kw)


def services(c):
    return c.app.state.services


def user_of(c, email):
    return services(c).accounts.find_user(email)


def save_session(c, email, score=66.0, day=date(2026, 11, 20)):
    now = datetime.now(UTC)
    result = {"routine": "smile", "reps": 3, "affected_side": None, "calibration": {}, "score": score,
              "exercises": [{"id": "open_mouth_smile", "score": score, "left": 0.7, "right": 0.5, "symmetry": 0.7,
                             "hold": 2.0, "stability": 0.8, "synkinesis": [], "skipped": False, "reps": []}],
              "sunnybrook": {"composite": 61, "is_estimate": True}, "scoring_version": 1}
    return services(c).practice.save_session(user_of(c, email).id, result, day=day, started_at=now, finished_at=now)


def invite(c) -> str:
    r = post(c, "/clinician/invitations", token=csrf_of(c.get("/clinician").text))
    assert r.status_code == 303
    page = c.get(r.headers["location"]).text
    m = re.search(r'class="newest">\s*<td class="code" data-code="([A-Z0-9-]+)"', page)
    assert m, "the new code is not highlighted"
    return m.group(1)


# -- register, log in, log out ---------------------------------------------------------------------------------------
def test_register_login_logout(app_client):
    c = app_client
    r = register(c, "Ana@Example.org", name="Ana")
    assert r.status_code == 303 and r.headers["location"] == "/practice"
    page = c.get("/account")
    assert page.status_code == 200 and "ana@example.org" in page.text and page.headers["cache-control"] == "no-store"
    r = post(c, "/logout")
    assert r.status_code == 303 and r.headers["location"] == "/login?done=logged_out"
    assert "mimetic_session=" in r.headers["set-cookie"] and "Max-Age=0" in r.headers["set-cookie"]
    r = c.get("/account", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/account"
    assert notices(c.get("/login?done=logged_out").text) == "You are logged out."
    r = login(c, "ana@example.org", next="/account")
    assert r.status_code == 303 and r.headers["location"] == "/account"
    assert c.get("/account").status_code == 200
    # a logged-in visitor of /login or /register goes on
    assert c.get("/login", follow_redirects=False).headers["location"] == "/practice"
    assert c.get("/register", follow_redirects=False).headers["location"] == "/practice"


def test_clinician_lands_on_the_clinician_page(app_client):
    r = register(app_client, "dr@clinic.example", role="clinician")
    assert r.status_code == 303 and r.headers["location"] == "/clinician"
    assert app_client.get("/clinician").status_code == 200


def test_cookie_flags(app_client):
    r = register(app_client, "ana@example.org")
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("mimetic_session=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Path=/" in cookie and f"Max-Age={14 * 86400}" in cookie and "Secure" not in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    assert services(app_client).accounts.user_for_token(token)[0].email == "ana@example.org"
    pre = app_client.get("/photo").headers.get("set-cookie", "")  # logged in: no pre-login cookie is made
    assert "mimetic_csrf" not in pre
    https = another(app_client, base_url="https://testserver")
    r = register(https, "bo@example.org")
    assert "Secure" in r.headers["set-cookie"]


def test_secure_cookies_setting(client_factory):
    c = client_factory(secure_cookies=True, **CHEAP)
    r = c.get("/login")
    assert "mimetic_csrf=" in r.headers["set-cookie"] and "Secure" in r.headers["set-cookie"]
    assert "HttpOnly" in r.headers["set-cookie"]


def test_secure_cookies_from_the_environment(monkeypatch):
    from mimetic.web.settings import Settings

    monkeypatch.setenv("MIMETIC_SECURE_COOKIES", "1")
    assert Settings.from_env().secure_cookies is True
    monkeypatch.setenv("MIMETIC_SECURE_COOKIES", "maybe")
    with pytest.raises(ValueError, match="yes/no"):
        Settings.from_env()


def test_wrong_password_and_unknown_email(app_client):
    register(app_client, "ana@example.org")
    post(app_client, "/logout")
    for email, pw in (("ana@example.org", "not the password"), ("nobody@example.org", PW)):
        r = login(app_client, email, pw)
        assert r.status_code == 401 and "Wrong email address or password." in notices(r.text)
        assert "mimetic_session=" not in r.headers.get("set-cookie", "")
    assert app_client.get("/account", follow_redirects=False).status_code == 303


def test_registration_errors(app_client):
    assert register(app_client, "ana@example.org").status_code == 303
    other = another(app_client)
    r = register(other, "ANA@example.org")
    assert r.status_code == 409 and "already exists" in notices(r.text)
    r = register(other, "bo@example.org", password="short")
    assert r.status_code == 400 and "at least 10 characters" in notices(r.text)
    r = register(other, "bo@example.org", password2="something else entirely")
    assert r.status_code == 400 and "The two passwords are not the same." in notices(r.text)
    r = register(other, "bo@example.org", role="admin")
    assert r.status_code == 400 and "role must be" in notices(r.text)
    assert user_of(other, "bo@example.org") is None


def test_registration_errors_in_the_visitors_language(app_client):
    """The store's errors are shown from the catalogue: Korean with ?lang=ko or the cookie, English otherwise."""
    assert register(app_client, "ana@example.org").status_code == 303
    other = another(app_client)
    token = csrf_of(other.get("/register").text)

    def post_register(path, email, password=PW):
        return other.post(path, data={"email": email, "password": password, "password2": password,
                                      "role": "patient", "csrf_token": token}, follow_redirects=False)

    r = post_register("/register", "ana@example.org")
    assert r.status_code == 409 and notices(r.text) == "An account with this email address already exists."
    r = post_register("/register?lang=ko", "ANA@example.org")
    assert r.status_code == 409 and notices(r.text) == "이 이메일 주소로 된 계정이 이미 있습니다."
    assert '<html lang="ko"' in r.text
    other.cookies.set("mimetic_lang", "ko")
    r = post_register("/register", "bo@example.org", password="short")
    assert r.status_code == 400 and notices(r.text) == "비밀번호는 10자 이상이어야 합니다."  # {min} filled in
    other.cookies.set("mimetic_lang", "zh-Hant")
    r = post_register("/register", "not an address")
    assert r.status_code == 400 and notices(r.text) == "請輸入有效的電子郵件地址，例如 name@example.org。"
    r = post_register("/register?lang=en", "bo@example.org", password="short")
    assert r.status_code == 400 and notices(r.text) == "The password must be at least 10 characters long."
    assert user_of(other, "bo@example.org") is None


def test_account_errors_in_the_visitors_language(app_client):
    c = app_client
    register(c, "ana@example.org")
    c.cookies.set("mimetic_lang", "zh-Hans")
    r = post(c, "/account/link", {"code": "WRONG-CODE1"})
    assert r.status_code == 400 and notices(r.text) == "此邀请码不存在。请向您的临床人员核实。"
    r = post(c, "/account/profile", {"affected_side": "up"})
    assert r.status_code == 400 and notices(r.text) == "受影响的一侧必须是左侧、右侧或无。"
    c.cookies.set("mimetic_lang", "ko")
    r = post(c, "/account/password", {"current": PW, "password": PW, "password2": PW})
    assert r.status_code == 400 and notices(r.text) == "새 비밀번호는 현재 비밀번호와 달라야 합니다."


def test_an_error_without_a_catalogue_key_shows_its_own_text():
    from starlette.requests import Request

    from mimetic.store.accounts import AccountError
    from mimetic.web.account_pages import _message

    ko = Request({"type": "http", "method": "GET", "path": "/", "query_string": b"lang=ko", "headers": []})
    assert _message(ko, AccountError("Something else.")) == "Something else."
    assert _message(ko, AccountError("Not here.", key="accounts.error.not_in_any_catalogue")) == "Not here."
    assert _message(ko, AccountError.of("accounts.error.name_long", max=100)) == "이름은 100자 이하여야 합니다."


def test_next_only_goes_to_this_site(app_client):
    register(app_client, "ana@example.org")
    post(app_client, "/logout")
    for target, expected in (("/history?x=1", "/history?x=1"), ("//evil.example/x", "/practice"),
                             ("https://evil.example/", "/practice"), ("/\\evil.example", "/practice"),
                             ("javascript:alert(1)", "/practice")):
        r = login(app_client, "ana@example.org", next=target)
        assert r.status_code == 303 and r.headers["location"] == expected, target
        post(app_client, "/logout")


# -- CSRF --------------------------------------------------------------------------------------------------------------
def test_csrf_on_login_and_register(app_client):
    c = app_client
    c.get("/login")  # the pre-login cookie
    data = {"email": "ana@example.org", "password": PW, "password2": PW, "role": "patient"}
    for extra in ({}, {"csrf_token": "forged"}):
        r = c.post("/register", data={**data, **extra}, follow_redirects=False)
        assert r.status_code == 403 and r.json()["error"]["code"] == "csrf"
    assert user_of(c, "ana@example.org") is None
    # the token alone is not enough: it must match this browser's cookie (double submit)
    token = csrf_of(c.get("/register").text)
    stranger = another(c)
    r = stranger.post("/register", data={**data, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 403 and user_of(c, "ana@example.org") is None
    assert register(c, "ana@example.org").status_code == 303
    post(c, "/logout")
    r = c.post("/login", data={"email": "ana@example.org", "password": PW}, follow_redirects=False)
    assert r.status_code == 403


def test_csrf_on_logged_in_forms(app_client):
    c = app_client
    register(c, "ana@example.org")
    pre_login = c.cookies.get("mimetic_csrf")
    assert pre_login
    bo = another(c)
    register(bo, "bo@example.org")
    bo_token = account_csrf(bo)
    for token in ("", "forged", bo_token, pre_login):  # Bo's token and the pre-login token do not work for Ana
        r = c.post("/account/password", data={"current": PW, "password": "a brand new passphrase",
                                              "password2": "a brand new passphrase", "csrf_token": token},
                   follow_redirects=False)
        assert r.status_code == 403, token
        r = c.post("/logout", data={"csrf_token": token}, follow_redirects=False)
        assert r.status_code == 403, token
    assert services(c).accounts.authenticate("ana@example.org", PW) is not None  # unchanged
    assert c.get("/account").status_code == 200  # still logged in
    r = c.post("/account/profile", data={"affected_side": "left"}, headers={"X-CSRF-Token": account_csrf(c)},
               follow_redirects=False)
    assert r.status_code == 303 and user_of(c, "ana@example.org").affected_side == "left"  # the header works too


def test_pages_carry_user_and_csrf(app_client):
    c = app_client
    page = c.get("/photo").text
    assert 'href="/login"' in page and 'href="/register"' in page and 'href="/account"' not in page
    boot = json.loads(re.search(r'<script type="application/json" id="boot">(.*?)</script>', page, re.S).group(1))
    assert boot["user"] is None and boot["csrf"] == c.cookies.get("mimetic_csrf")
    register(c, "ana@example.org", name="Ana")
    page = c.get("/photo").text
    assert 'href="/practice"' in page and 'href="/history"' in page and 'href="/account"' in page
    assert 'action="/logout"' in page and 'href="/clinician"' not in page and 'href="/login"' not in page
    boot = json.loads(re.search(r'id="boot">(.*?)</script>', page, re.S).group(1))
    user = user_of(c, "ana@example.org")
    assert boot["user"] == {"id": user.id, "role": "patient", "name": "Ana"}
    assert boot["csrf"] == services(c).accounts.user_for_token(c.cookies.get("mimetic_session"))[1]
    dr = another(c)
    register(dr, "dr@clinic.example", role="clinician")
    assert 'href="/clinician"' in dr.get("/photo").text


# -- rate limits ---------------------------------------------------------------------------------------------------
def test_login_rate_limit_per_email(client_factory):
    c = client_factory(login_attempts=3, **CHEAP)
    register(c, "ana@example.org")
    post(c, "/logout")
    for _ in range(3):
        assert login(c, "ana@example.org", "wrong password").status_code == 401
    r = login(c, "Ana@example.org", PW)  # even the right password waits now
    assert r.status_code == 429 and "Too many attempts" in notices(r.text) and int(r.headers["retry-after"]) > 0
    assert "mimetic_session=" not in r.headers.get("set-cookie", "")
    assert login(c, "bo@example.org", "wrong password").status_code == 401  # another address is not blocked


def test_login_rate_limit_per_ip(client_factory):
    c = client_factory(login_attempts_ip=4, **CHEAP)
    for n in range(4):
        assert login(c, f"user{n}@example.org", "wrong password").status_code == 401
    r = login(c, "fresh@example.org", "wrong password")
    assert r.status_code == 429 and "Retry-After" in r.headers


def test_registration_rate_limit(client_factory):
    c = client_factory(register_attempts_ip=2, **CHEAP)
    assert register(c, "a@example.org", password="short").status_code == 400
    assert register(c, "b@example.org", password="short").status_code == 400
    r = register(c, "c@example.org")
    assert r.status_code == 429 and "Too many attempts" in notices(r.text) and user_of(c, "c@example.org") is None


# -- password change and sessions ---------------------------------------------------------------------------------
def test_password_change_ends_the_other_logins(app_client):
    c = app_client
    register(c, "ana@example.org")
    other = another(c)
    assert login(other, "ana@example.org").status_code == 303
    assert other.get("/account").status_code == 200
    new = "a brand new passphrase"
    r = post(c, "/account/password", {"current": "wrong!", "password": new, "password2": new})
    assert r.status_code == 400 and "The current password is wrong." in notices(r.text)
    r = post(c, "/account/password", {"current": PW, "password": "short", "password2": "short"})
    assert r.status_code == 400 and "at least 10" in notices(r.text)
    r = post(c, "/account/password", {"current": PW, "password": new, "password2": new})
    assert r.status_code == 303 and r.headers["location"] == "/account?done=password"
    assert c.get("/account").status_code == 200  # this browser stays logged in
    assert other.get("/account", follow_redirects=False).status_code == 303  # the other one is logged out
    post(c, "/logout")
    assert login(c, "ana@example.org", PW).status_code == 401
    assert login(c, "ana@example.org", new).status_code == 303


def test_a_new_login_replaces_the_old_token(app_client):
    c = app_client
    register(c, "ana@example.org")
    first = c.cookies.get("mimetic_session")
    assert login(c, "ana@example.org").status_code == 303  # logging in again in the same browser
    assert c.cookies.get("mimetic_session") != first
    assert services(c).accounts.user_for_token(first) is None


def test_profile_and_affected_side(app_client):
    c = app_client
    register(c, "ana@example.org")
    r = post(c, "/account/profile", {"display_name": "Ana L", "affected_side": "right"})
    assert r.status_code == 303
    u = user_of(c, "ana@example.org")
    assert u.affected_side == "right" and u.display_name == "Ana L"
    assert 'value="right" checked' in c.get("/account").text
    r = post(c, "/account/profile", {"affected_side": "up"})
    assert r.status_code == 400 and user_of(c, "ana@example.org").affected_side == "right"


# -- invitations, links, the clinician's page -------------------------------------------------------------------------
def test_invitation_link_and_unlink(app_client):
    dr = app_client
    register(dr, "dr@clinic.example", role="clinician", name="Dr Who")
    code = invite(dr)
    ana = another(dr)
    register(ana, "ana@example.org", name="Ana")
    r = post(ana, "/account/link", {"code": "WRONG-CODE1"})
    assert r.status_code == 400 and "does not exist" in notices(r.text)
    r = post(ana, "/account/link", {"code": code.lower()})
    assert r.status_code == 303 and r.headers["location"] == "/account?done=linked"
    assert "Dr Who" in ana.get("/account").text
    ana_id = user_of(dr, "ana@example.org").id
    page = dr.get("/clinician").text
    assert f'href="/clinician/patients/{ana_id}"' in page and "Ana" in page
    bo = another(dr)
    register(bo, "bo@example.org")
    r = post(bo, "/account/link", {"code": code})
    assert r.status_code == 400 and "already been used" in notices(r.text)  # single use
    dr_id = user_of(dr, "dr@clinic.example").id
    r = post(ana, "/account/unlink", {"clinician_id": dr_id})
    assert r.status_code == 303 and services(dr).accounts.patients_of(dr_id) == []
    assert f"/clinician/patients/{ana_id}" not in dr.get("/clinician").text
    assert post(ana, "/account/unlink", {"clinician_id": dr_id}).status_code == 404


def test_clinician_revokes_codes_and_unlinks_patients(app_client):
    dr = app_client
    register(dr, "dr@clinic.example", role="clinician")
    code = invite(dr)
    r = post(dr, "/clinician/invitations/revoke", {"code": code}, token=csrf_of(dr.get("/clinician").text))
    assert r.status_code == 303 and code not in dr.get("/clinician").text
    ana = another(dr)
    register(ana, "ana@example.org")
    assert post(ana, "/account/link", {"code": code}).status_code == 400
    assert post(ana, "/account/link", {"code": invite(dr)}).status_code == 303
    ana_id = user_of(dr, "ana@example.org").id
    r = post(dr, "/clinician/unlink", {"patient_id": ana_id}, token=csrf_of(dr.get("/clinician").text))
    assert r.status_code == 303 and services(dr).accounts.clinicians_of(ana_id) == []


def test_clinician_sees_only_linked_patients(app_client):
    dr = app_client
    register(dr, "dr@clinic.example", role="clinician")
    other_dr = another(dr)
    register(other_dr, "other@clinic.example", role="clinician")
    ana, bo = another(dr), another(dr)
    register(ana, "ana@example.org", name="Ana Linked")
    register(bo, "bo@example.org", name="Bo Unlinked")
    post(ana, "/account/link", {"code": invite(dr)})
    post(bo, "/account/link", {"code": invite(other_dr)})
    page = dr.get("/clinician").text
    assert "Ana Linked" in page and "Bo Unlinked" not in page and "bo@example.org" not in page
    page = other_dr.get("/clinician").text
    assert "Bo Unlinked" in page and "Ana Linked" not in page


def test_patients_cannot_use_clinician_pages(app_client):
    c = app_client
    assert c.get("/clinician", follow_redirects=False).headers["location"] == "/login?next=/clinician"
    register(c, "ana@example.org")
    assert c.get("/clinician").status_code == 403
    token = account_csrf(c)
    assert c.post("/clinician/invitations", data={"csrf_token": token}).status_code == 403
    assert c.post("/clinician/unlink", data={"csrf_token": token, "patient_id": "x"}).status_code == 403
    assert services(c).accounts.invitations_of(user_of(c, "ana@example.org").id) == []


def test_clinicians_cannot_link_to_clinicians(app_client):
    dr = app_client
    register(dr, "dr@clinic.example", role="clinician")
    code = invite(dr)
    other = another(dr)
    register(other, "other@clinic.example", role="clinician")
    r = post(other, "/account/link", {"code": code})
    assert r.status_code == 400 and "Only patients" in notices(r.text)


# -- export and deletion -----------------------------------------------------------------------------------------------
def test_export_json_and_csv(app_client):
    c = app_client
    register(c, "ana@example.org", name="Ana")
    sid = save_session(c, "ana@example.org", 66.0)
    r = c.get("/account/export.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.headers["content-disposition"].startswith("attachment;") and r.headers["cache-control"] == "no-store"
    data = r.json()
    assert data["user"]["email"] == "ana@example.org" and data["user"]["display_name"] == "Ana"
    assert [s["id"] for s in data["sessions"]] == [sid] and data["sessions"][0]["score"] == 66.0
    assert data["sessions"][0]["result"]["exercises"][0]["id"] == "open_mouth_smile"
    assert "$argon2" not in r.text
    r = c.get("/account/export.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 1 and rows[0]["session_id"] == sid and rows[0]["exercise"] == "open_mouth_smile"
    assert rows[0]["left"] == "0.7" and rows[0]["score"] == "66.0"
    bo = another(c)
    register(bo, "bo@example.org")
    assert sid not in bo.get("/account/export.json").text and sid not in bo.get("/account/export.csv").text
    anon = another(c)
    assert anon.get("/account/export.json", follow_redirects=False).status_code == 303


def table_counts(c, user_id) -> dict[str, int]:
    from sqlalchemy import text

    out = {}
    with services(c).store.engine.connect() as conn:
        for table, cols in {"users": ["id"], "login_sessions": ["user_id"], "invitations": ["clinician_id", "used_by"],
                            "links": ["patient_id", "clinician_id"], "practice_sessions": ["user_id"],
                            "exercise_results": ["user_id"]}.items():
            where = " OR ".join(f"{col} = :u" for col in cols)
            out[table] = conn.execute(text(f"SELECT COUNT(*) FROM {table} WHERE {where}"), {"u": user_id}).scalar()
    return out


def test_account_deletion_removes_every_row(app_client):
    c = app_client
    dr = another(c)
    register(dr, "dr@clinic.example", role="clinician")
    register(c, "ana@example.org")
    post(c, "/account/link", {"code": invite(dr)})
    save_session(c, "ana@example.org")
    save_session(c, "ana@example.org", day=date(2026, 11, 21))
    ana_id = user_of(c, "ana@example.org").id
    assert table_counts(c, ana_id) == {"users": 1, "login_sessions": 1, "invitations": 1, "links": 1,
                                       "practice_sessions": 2, "exercise_results": 2}
    r = post(c, "/account/delete", {"password": PW})
    assert r.status_code == 400 and "Tick the box" in notices(r.text)
    r = post(c, "/account/delete", {"password": "wrong password", "confirm": "yes"})
    assert r.status_code == 400 and user_of(c, "ana@example.org") is not None
    r = post(c, "/account/delete", {"password": PW, "confirm": "yes"})
    assert r.status_code == 303 and r.headers["location"] == "/login?done=deleted"
    assert "Max-Age=0" in r.headers["set-cookie"]
    assert set(table_counts(c, ana_id).values()) == {0}
    assert notices(c.get("/login?done=deleted").text) == "Your account and all of its data were deleted."
    assert login(c, "ana@example.org").status_code == 401
    assert user_of(dr, "dr@clinic.example") is not None and dr.get("/clinician").status_code == 200


# -- one user never reaches another's data ----------------------------------------------------------------------
def test_no_route_reaches_another_users_data(app_client):
    """Bo (a patient) and Dr D (another clinician) try every account route on Ana's and Dr C's things."""
    c_dr = app_client
    register(c_dr, "c@clinic.example", role="clinician")
    ana, bo, d_dr = another(c_dr), another(c_dr), another(c_dr)
    register(ana, "ana@example.org")
    register(bo, "bo@example.org")
    register(d_dr, "d@clinic.example", role="clinician")
    post(ana, "/account/link", {"code": invite(c_dr)})
    open_code = invite(c_dr)
    sid = save_session(ana, "ana@example.org", 88.0)
    acc = services(c_dr).accounts
    ana_id, c_id = user_of(c_dr, "ana@example.org").id, user_of(c_dr, "c@clinic.example").id

    # Bo cannot unlink Ana from Dr C (the form acts on Bo's own links only)
    assert post(bo, "/account/unlink", {"clinician_id": c_id}).status_code == 404
    # Dr D cannot unlink Dr C's patient, nor revoke Dr C's code
    d_token = csrf_of(d_dr.get("/clinician").text)
    assert post(d_dr, "/clinician/unlink", {"patient_id": ana_id}, token=d_token).status_code == 404
    assert post(d_dr, "/clinician/invitations/revoke", {"code": open_code}, token=d_token).status_code == 404
    assert acc.can_view(c_id, ana_id) and any(i.code == open_code and i.usable for i in acc.invitations_of(c_id))
    # Dr D's page shows none of Dr C's patients or codes
    page = d_dr.get("/clinician").text
    assert "ana@example.org" not in page and open_code not in page
    # nobody else's export holds Ana's session; Bo's profile form changes only Bo
    for other in (bo, d_dr, c_dr):
        assert sid not in other.get("/account/export.json").text
    post(bo, "/account/profile", {"display_name": "Bo", "affected_side": "left", "user_id": ana_id})
    assert user_of(c_dr, "ana@example.org").affected_side is None
    assert user_of(c_dr, "bo@example.org").affected_side == "left"
    # Bo's password form with Ana's password changes nothing of Ana's
    r = post(bo, "/account/password", {"current": PW, "password": "hijacked passphrase",
                                       "password2": "hijacked passphrase", "user_id": ana_id})
    assert r.status_code == 303  # it changed Bo's own password (both use PW here)
    assert acc.authenticate("ana@example.org", PW) is not None
    assert acc.authenticate("bo@example.org", "hijacked passphrase") is not None
    # Bo deleting "Ana" deletes Bo, never Ana
    post(bo, "/account/delete", {"password": "hijacked passphrase", "confirm": "yes", "user_id": ana_id})
    assert user_of(c_dr, "bo@example.org") is None and user_of(c_dr, "ana@example.org") is not None
    assert services(c_dr).practice.session(ana_id, sid)["score"] == 88.0


# -- text -------------------------------------------------------------------------------------------------------------
def test_accounts_catalogue_is_complete_in_every_language():
    folder = WEB / "locales" / "accounts"
    en = json.loads((folder / "en.json").read_text(encoding="utf-8"))
    for lang in ("zh-Hant", "zh-Hans", "ko"):
        other = json.loads((folder / f"{lang}.json").read_text(encoding="utf-8"))
        assert set(other) == set(en), (lang, set(en) ^ set(other))
        for key, text in en.items():
            assert set(re.findall(r"\{\w+\}", text)) == set(re.findall(r"\{\w+\}", other[key])), (lang, key)
            assert other[key].strip(), (lang, key)


def test_every_accounts_text_key_exists():
    from mimetic.web import i18n

    en = i18n.catalogue("en")
    used = set()
    for f in [WEB / "templates" / "base.html", *(WEB / "templates" / "accounts").glob("*.html")]:
        used |= set(re.findall(r"""\bt\(['"]([a-z_]+\.[a-z_]+)['"]""", f.read_text()))
    from mimetic.web.account_pages import DONE

    # keys built in the templates: 'accounts.done_' ~ done, 'accounts.role_' ~ role, 'accounts.side_' ~ side
    assert {k for k in used if k.endswith("_")} == {"accounts.done_", "accounts.role_", "accounts.side_"}
    used = {k for k in used if not k.endswith("_")}
    used |= {f"accounts.done_{d}" for d in DONE} | {"accounts.role_patient", "accounts.role_clinician"}
    used |= {f"accounts.side_{s}" for s in ("none", "left", "right")}
    assert "nav.logout" in used and used <= set(en), used - set(en)


def test_every_account_error_has_a_catalogue_key():
    """Every AccountError the store raises goes through ERRORS (a key and its English text), and each key is in the
    English catalogue with the very same text, so str(error) and the English page agree."""
    import mimetic.store.accounts as accounts
    from mimetic.store.accounts import ERRORS, AccountError

    source = Path(accounts.__file__).read_text(encoding="utf-8")
    raised = re.findall(r"raise AccountError\b(.*)", source)
    assert len(raised) >= 20
    keys = set()
    for call in raised:
        m = re.match(r"""\.of\(["']([a-z_.]+)["']""", call)
        assert m, f"an AccountError without a catalogue key: raise AccountError{call}"
        keys.add(m.group(1))
    assert keys == set(ERRORS), set(ERRORS) ^ keys  # every key raised, and no unused ones
    en = json.loads((WEB / "locales" / "accounts" / "en.json").read_text(encoding="utf-8"))
    for key, text in ERRORS.items():
        assert key.startswith("accounts.error.") and en.get(key) == text, key
    e = AccountError.of("accounts.error.password_short", min=10)
    assert str(e) == "The password must be at least 10 characters long." and isinstance(e, ValueError)
    assert (e.key, e.values, e.args) == ("accounts.error.password_short", {"min": 10}, (str(e),))


def test_account_pages_have_no_inline_script_or_style(app_client):
    register(app_client, "dr@clinic.example", role="clinician")
    for path in ("/account", "/clinician"):
        html = app_client.get(path).text
        assert "style=" not in html and "<style" not in html and "onclick" not in html
        assert re.findall(r"<script(?![^>]*type=\"application/json\")", html) == []
    assert app_client.get("/static/css/accounts.css").status_code == 200
