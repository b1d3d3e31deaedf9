"""Account pages: ``/register``, ``/login``, ``/logout`` (POST), ``/account`` (password, profile and affected side,
link to a clinician with an invitation code or unlink, export as JSON or CSV, delete the account) and ``/clinician``
(a clinician's invitation codes and linked patients).

Every form posts a ``csrf_token`` (see :mod:`mimetic.web.auth`) and answers with a redirect (303, then a page that
says what happened: ``?done=<what>``) or, when something is wrong, the same page again with the reason and a 4xx
status. Each route acts only for the logged-in user: ids in forms name the *other* side of the user's own links.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mimetic.export import dumps
from mimetic.store.accounts import AccountError, UserRecord
from mimetic.web import auth, i18n
from mimetic.web.errors import ApiError
from mimetic.web.pages import render

router = APIRouter(include_in_schema=False)

#: ``?done=`` values the pages announce (anything else is ignored)
DONE = {"logged_out", "deleted", "password", "profile", "linked", "unlinked", "invited", "revoked", "registered"}


def _svc(request: Request):
    return request.app.state.services


def _done(request: Request) -> str | None:
    value = request.query_params.get("done")
    return value if value in DONE else None


def _home(user: UserRecord) -> str:
    return "/clinician" if user.role == "clinician" else "/practice"


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _page(request: Request, page: str, *, status_code: int = 200, headers: dict[str, str] | None = None,
          **context) -> Response:
    response = render(request, page, template=f"accounts/{page}.html", status_code=status_code,
                      done=_done(request), **context)
    if headers:
        response.headers.update(headers)
    return response


def _message(request: Request, error: AccountError) -> str:
    """An :class:`AccountError` in the visitor's language: its catalogue text (``error.key``, filled with
    ``error.values``), or the store's English sentence when it has no key or the key is not in the catalogue."""
    t = i18n.Translator(i18n.choose(request)[0])
    if error.key and error.key in t.messages:
        return t(error.key, **error.values)
    return str(error)


def _log_in(request: Request, user: UserRecord, target: str) -> RedirectResponse:
    """Start a new login (ending the one this browser had, so a token is never reused across logins)."""
    accounts = _svc(request).accounts
    old = auth.session_token(request)
    if old:
        accounts.end_login(old)
    token, _csrf = accounts.start_login(user.id)
    response = _see_other(target)
    auth.set_login_cookie(request, response, token)
    auth.forget_login(request)
    return response


# -- register, log in, log out -------------------------------------------------------------------------------------
@router.get("/register", response_class=HTMLResponse)
def register_page(request: Request) -> Response:
    user = auth.current_user(request)
    if user is not None:
        return _see_other(_home(user))
    return _page(request, "register", form={"role": "patient"})


@router.post("/register", dependencies=[Depends(auth.check_csrf_pre_login)])
def register(request: Request, email: str = Form(""), display_name: str = Form(""), password: str = Form(""),
             password2: str = Form(""), role: str = Form("patient")) -> Response:
    svc = _svc(request)
    form = {"email": email, "display_name": display_name, "role": role if role in ("patient", "clinician") else
            "patient"}
    ip = auth.client_ip(request)
    wait = svc.limiter.register.retry_after(ip)
    if wait:
        message, headers = auth.too_many(wait)
        return _page(request, "register", status_code=429, headers=headers, error=message, form=form)
    svc.limiter.register.hit(ip)
    if password != password2:
        return _page(request, "register", status_code=400, error_key="accounts.error_mismatch", form=form)
    try:
        user = svc.accounts.create_user(email, password, role, display_name)
    except AccountError as e:
        status = 409 if e.key == "accounts.error.email_taken" else 400
        return _page(request, "register", status_code=status, error=_message(request, e), form=form)
    return _log_in(request, user, _home(user))


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "") -> Response:
    user = auth.current_user(request)
    if user is not None:
        return _see_other(auth.safe_next(next, _home(user)))
    return _page(request, "login", next=auth.safe_next(next, ""), form={})


@router.post("/login", dependencies=[Depends(auth.check_csrf_pre_login)])
def login(request: Request, email: str = Form(""), password: str = Form(""), next: str = Form("")) -> Response:
    svc = _svc(request)
    ip = auth.client_ip(request)
    form = {"email": email}
    target = auth.safe_next(next, "")
    wait = svc.limiter.attempt(ip, email)  # counted before the (slow) password check: parallel guesses wait too
    if wait:
        message, headers = auth.too_many(wait)
        return _page(request, "login", status_code=429, headers=headers, error=message, next=target, form=form)
    user = svc.accounts.authenticate(email, password)
    if user is None:
        return _page(request, "login", status_code=401, error_key="accounts.error_login", next=target, form=form)
    svc.limiter.succeeded(ip, email)
    return _log_in(request, user, target or _home(user))


@router.post("/logout", dependencies=[Depends(auth.check_csrf)])
def logout(request: Request) -> Response:
    token = auth.session_token(request)
    if token:
        _svc(request).accounts.end_login(token)
    response = _see_other("/login?done=logged_out")
    auth.clear_login_cookie(request, response)
    return response


# -- the account ------------------------------------------------------------------------------------------------
def _account(request: Request, user: UserRecord, *, status_code: int = 200, **context) -> Response:
    clinicians = _svc(request).accounts.clinicians_of(user.id)
    return _page(request, "account", status_code=status_code, clinicians=clinicians, **context)


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, user: UserRecord = Depends(auth.require_user)) -> Response:
    return _account(request, user)


def _wrong_password(request: Request, user: UserRecord, section: str) -> Response:
    """A wrong current password counts as a failed login (the attempt :func:`_limited` counted stays counted)."""
    return _account(request, user, status_code=400, error_key="accounts.error_password", section=section)


def _limited(request: Request, user: UserRecord, section: str) -> Response | None:
    """Count a password attempt of the user (as a login attempt, before the password is checked); the 429 page
    when there have been too many. The caller gives the attempt back unless the password turns out wrong."""
    wait = _svc(request).limiter.attempt(auth.client_ip(request), user.email)
    if not wait:
        return None
    message, headers = auth.too_many(wait)
    response = _account(request, user, status_code=429, error=message, section=section)
    response.headers.update(headers)
    return response


@router.post("/account/password", dependencies=[Depends(auth.check_csrf)])
def change_password(request: Request, user: UserRecord = Depends(auth.require_user), current: str = Form(""),
                    password: str = Form(""), password2: str = Form("")) -> Response:
    if (limited := _limited(request, user, "password")) is not None:
        return limited
    limiter, ip = _svc(request).limiter, auth.client_ip(request)
    if password != password2:
        limiter.not_checked(ip, user.email)
        return _account(request, user, status_code=400, error_key="accounts.error_mismatch", section="password")
    accounts = _svc(request).accounts
    try:
        changed = accounts.change_password(user.id, current, password)
    except AccountError as e:  # the current password was right; the new one breaks the policy
        limiter.succeeded(ip, user.email)
        return _account(request, user, status_code=400, error=_message(request, e), section="password")
    if not changed:
        return _wrong_password(request, user, "password")
    limiter.succeeded(ip, user.email)
    accounts.end_all_logins(user.id, except_token=auth.session_token(request))  # every other browser is logged out
    return _see_other("/account?done=password")


@router.post("/account/profile", dependencies=[Depends(auth.check_csrf)])
def profile(request: Request, user: UserRecord = Depends(auth.require_user), display_name: str = Form(""),
            affected_side: str = Form("none")) -> Response:
    accounts = _svc(request).accounts
    try:
        accounts.set_display_name(user.id, display_name)
        accounts.set_affected_side(user.id, affected_side)
    except AccountError as e:
        return _account(request, user, status_code=400, error=_message(request, e), section="profile")
    return _see_other("/account?done=profile")


@router.post("/account/link", dependencies=[Depends(auth.check_csrf)])
def link(request: Request, user: UserRecord = Depends(auth.require_user), code: str = Form("")) -> Response:
    try:
        _svc(request).accounts.redeem_invitation(user.id, code)
    except AccountError as e:
        return _account(request, user, status_code=400, error=_message(request, e), section="link")
    return _see_other("/account?done=linked")


@router.post("/account/unlink", dependencies=[Depends(auth.check_csrf)])
def unlink(request: Request, user: UserRecord = Depends(auth.require_user), clinician_id: str = Form("")) -> Response:
    if not _svc(request).accounts.unlink(user.id, clinician_id):
        raise ApiError(404, "you are not linked to this clinician")
    return _see_other("/account?done=unlinked")


def _download(body: str, media_type: str, user: UserRecord, ext: str) -> Response:
    name = f"mimetic-{dt.date.today().isoformat()}.{ext}"
    return Response(body, media_type=media_type, headers={
        "Content-Disposition": f"attachment; filename=\"{name}\"", "Cache-Control": "no-store"})


@router.get("/account/export.json")
def export_json(request: Request, user: UserRecord = Depends(auth.require_user)) -> Response:
    data = _svc(request).practice.export(user.id)
    return _download(dumps(data, indent=1), "application/json", user, "json")


@router.get("/account/export.csv")
def export_csv(request: Request, user: UserRecord = Depends(auth.require_user)) -> Response:
    return _download(_svc(request).practice.export_csv(user.id), "text/csv; charset=utf-8", user, "csv")


@router.post("/account/delete", dependencies=[Depends(auth.check_csrf)])
def delete_account(request: Request, user: UserRecord = Depends(auth.require_user), password: str = Form(""),
                   confirm: str = Form("")) -> Response:
    if (limited := _limited(request, user, "delete")) is not None:
        return limited
    accounts = _svc(request).accounts
    if confirm != "yes":
        _svc(request).limiter.not_checked(auth.client_ip(request), user.email)
        return _account(request, user, status_code=400, error_key="accounts.error_confirm", section="delete")
    if not accounts.check_user_password(user.id, password):
        return _wrong_password(request, user, "delete")
    svc = _svc(request)
    svc.runner.delete_owned_by(user.id)  # the user's video jobs and photo results, files included
    svc.images.delete_owned_by(user.id)
    accounts.delete_user(user.id)  # logins, links, invitations, sessions and results go with it (cascade)
    response = _see_other("/login?done=deleted")
    auth.clear_login_cookie(request, response)
    return response


# -- the clinician's page -----------------------------------------------------------------------------------------
require_clinician = auth.require_role("clinician")


@router.get("/clinician", response_class=HTMLResponse)
def clinician_page(request: Request, user: UserRecord = Depends(require_clinician)) -> Response:
    accounts = _svc(request).accounts
    now = dt.datetime.now(dt.UTC)
    invitations = accounts.invitations_of(user.id)
    patients = accounts.patients_of(user.id)
    names = {p.id: p.name for p in patients}
    open_codes = [i for i in invitations if i.usable]
    asked = request.query_params.get("code") if _done(request) == "invited" else None
    return _page(request, "clinician", patients=patients, now=now, names=names, open_invitations=open_codes,
                 used_invitations=[i for i in invitations if i.used_at is not None][:20],
                 newest=asked if asked in {i.code for i in open_codes} else None)


@router.post("/clinician/invitations", dependencies=[Depends(auth.check_csrf)])
def create_invitation(request: Request, user: UserRecord = Depends(require_clinician)) -> Response:
    code = _svc(request).accounts.create_invitation(user.id)
    return _see_other(f"/clinician?done=invited&code={quote(code)}")


@router.post("/clinician/invitations/revoke", dependencies=[Depends(auth.check_csrf)])
def revoke_invitation(request: Request, user: UserRecord = Depends(require_clinician),
                      code: str = Form("")) -> Response:
    if not _svc(request).accounts.revoke_invitation(user.id, code):
        raise ApiError(404, "no such unused invitation code of yours")
    return _see_other("/clinician?done=revoked")


@router.post("/clinician/unlink", dependencies=[Depends(auth.check_csrf)])
def unlink_patient(request: Request, user: UserRecord = Depends(require_clinician),
                   patient_id: str = Form("")) -> Response:
    if not _svc(request).accounts.unlink(patient_id, user.id):
        raise ApiError(404, "no such linked patient")
    return _see_other("/clinician?done=unlinked")
