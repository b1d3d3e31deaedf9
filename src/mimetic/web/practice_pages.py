"""Practice and history (issue 7): the pages ``/practice``, ``/history`` and ``/clinician/patients/{id}``, and the
JSON under ``/api/v1/me/...`` (the logged-in user's own data) and ``/api/v1/patients/{id}/...`` (a linked
clinician's view of one patient, 404 unless linked).

Every route needs a login: pages redirect to ``/login?next=...``, the API answers 401. Every store query is made
for the user the data belongs to, after checking that the viewer may see it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mimetic.web.errors import ApiError
from mimetic.web.responses import JSONResponse
from mimetic.web.schemas import PracticeDay, PracticeSessionDetail

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["practice"])

#: the longest range /days answers at once
MAX_DAYS = 400


# --- who is asking -------------------------------------------------------------------------------------------

def _viewer(request: Request):
    from mimetic.web.auth import current_user

    return current_user(request)


def _api_user(request: Request):
    user = _viewer(request)
    if user is None:
        raise ApiError(401, "log in first", code="unauthenticated")
    return user


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)


def _linked_patient(request: Request, viewer, patient_id: str):
    """The patient record when ``viewer`` is a clinician linked to them; ApiError 404 otherwise (also for ids that
    do not exist, so the answer tells nothing about other accounts)."""
    accounts = request.app.state.services.accounts
    if getattr(viewer, "role", None) != "clinician" or patient_id == viewer.id or len(patient_id) > 64:
        raise ApiError(404, "no such patient")
    if not accounts.can_view(viewer.id, patient_id):
        raise ApiError(404, "no such patient")
    patient = accounts.get_user(patient_id)
    if patient is None:
        raise ApiError(404, "no such patient")
    return patient


def _patient_for_api(request: Request, patient_id: str):
    return _linked_patient(request, _api_user(request), patient_id)


# --- pages ---------------------------------------------------------------------------------------------------

def _render(request: Request, page: str, template: str | None = None) -> Response:
    from mimetic.web.pages import render

    return render(request, page, template=template)


@pages.get("/practice", response_class=HTMLResponse)
def practice_page(request: Request) -> Response:
    if _viewer(request) is None:
        return _login_redirect(request)
    return _render(request, "practice")


@pages.get("/history", response_class=HTMLResponse)
def history_page(request: Request) -> Response:
    if _viewer(request) is None:
        return _login_redirect(request)
    return _render(request, "history")


@pages.get("/clinician/patients/{patient_id}", response_class=HTMLResponse)
def patient_page(request: Request, patient_id: str) -> Response:
    viewer = _viewer(request)
    if viewer is None:
        return _login_redirect(request)
    _linked_patient(request, viewer, patient_id)
    return _render(request, "patient", template="history.html")


# --- JSON ----------------------------------------------------------------------------------------------------

def _user_json(user) -> dict[str, Any]:
    return {"id": user.id, "display_name": user.display_name or "", "role": user.role,
            "affected_side": getattr(user, "affected_side", None)}


def _month(today: dt.date) -> tuple[dt.date, dt.date]:
    first = today.replace(day=1)
    nxt = (first + dt.timedelta(days=32)).replace(day=1)
    return first, nxt - dt.timedelta(days=1)


def _parse_date(value: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ApiError(422, f"{name}: {value[:40]!r} is not a date (YYYY-MM-DD)") from None


def _days(request: Request, user_id: str, start: str | None, end: str | None) -> dict[str, Any]:
    first, last = _month(dt.date.today())
    a = _parse_date(start, "start") if start else first
    b = _parse_date(end, "end") if end else (last if not start else a + dt.timedelta(days=41))
    if b < a:
        raise ApiError(422, "end is before start")
    if (b - a).days >= MAX_DAYS:
        raise ApiError(422, f"at most {MAX_DAYS} days at a time")
    days = request.app.state.services.practice.days(user_id, a, b)
    out = [{"date": d.isoformat() if isinstance(d, dt.date) else str(d), **jsonable_encoder(v)}
           for d, v in sorted(days.items(), key=lambda kv: str(kv[0]))]
    return {"start": a.isoformat(), "end": b.isoformat(), "days": out}


# The session routes answer with the stored JSON as saved (a JSONResponse: FastAPI does not convert it again), so a
# stored session reads back exactly as it was written; their response models describe it in the OpenAPI document.

def _day(request: Request, user_id: str, day: str) -> JSONResponse:
    d = _parse_date(day, "date")
    sessions = request.app.state.services.practice.sessions_on(user_id, d)
    return JSONResponse({"date": d.isoformat(), "sessions": jsonable_encoder(sessions)})


def _check_exercise(exercise: str | None) -> str | None:
    if exercise is None or exercise == "":
        return None
    from mimetic.practice.exercises import EXERCISES

    if exercise not in EXERCISES:
        raise ApiError(422, f"unknown exercise {exercise[:60]!r}; exercises: {', '.join(EXERCISES)}")
    return exercise


def _trends(request: Request, user_id: str, exercise: str | None) -> dict[str, Any]:
    exercise = _check_exercise(exercise)
    points = request.app.state.services.practice.trends(user_id, exercise)
    return {"exercise": exercise, "points": jsonable_encoder(points)}


def _stats(request: Request, user_id: str, today: str | None = None) -> dict[str, Any]:
    """Statistics; ``today`` is the browser's date (streaks end today or yesterday), within a day of the server's."""
    from mimetic.web.practice_ws import parse_day

    try:
        day = parse_day(today)
    except ValueError as exc:
        raise ApiError(422, f"today: {exc}") from None
    return jsonable_encoder(request.app.state.services.practice.stats(user_id, today=day))


def _session(request: Request, user_id: str, session_id: str) -> JSONResponse:
    found = request.app.state.services.practice.session(user_id, session_id) if len(session_id) <= 64 else None
    if found is None:
        raise ApiError(404, "no such session")
    return JSONResponse(jsonable_encoder(found))


@api.get("/practice/catalogue", summary="Routines and exercises")
def practice_catalogue(request: Request) -> dict[str, Any]:
    """The routines (name → exercise ids) and the exercises (name, instruction, picture, target AUs, hold time),
    with the logged-in user's affected side."""
    from mimetic.web.practice_ws import catalogue

    user = _api_user(request)
    return {**catalogue(), "user": _user_json(user)}


@api.get("/me/days", summary="My score per day")
def my_days(request: Request, start: str | None = Query(None, description="YYYY-MM-DD (default: this month)"),
            end: str | None = Query(None, description="YYYY-MM-DD, inclusive")) -> dict[str, Any]:
    """``{"start", "end", "days": [{"date", "score", "sessions"}]}``: one entry per day with sessions."""
    return _days(request, _api_user(request).id, start, end)


@api.get("/me/days/{day}", summary="My sessions of one day", response_model=PracticeDay)
def my_day(request: Request, day: str) -> JSONResponse:
    return _day(request, _api_user(request).id, day)


@api.get("/me/trends", summary="My scores over time")
def my_trends(request: Request, exercise: str | None = None) -> dict[str, Any]:
    """One point per session and exercise: day, started_at, exercise, score, left, right, symmetry."""
    return _trends(request, _api_user(request).id, exercise)


@api.get("/me/stats", summary="My statistics")
def my_stats(request: Request, today: str | None = Query(None, description="the browser's date")) -> dict[str, Any]:
    """Streaks, best day, best score per exercise, weekly averages, totals."""
    return _stats(request, _api_user(request).id, today)


@api.get("/me/sessions/{session_id}", summary="One of my sessions", response_model=PracticeSessionDetail)
def my_session(request: Request, session_id: str) -> JSONResponse:
    return _session(request, _api_user(request).id, session_id)


@api.get("/patients/{patient_id}", summary="A linked patient")
def patient(request: Request, patient_id: str) -> dict[str, Any]:
    """For a clinician: the patient's name and affected side (404 unless linked)."""
    return _user_json(_patient_for_api(request, patient_id))


@api.get("/patients/{patient_id}/days", summary="A linked patient's score per day")
def patient_days(request: Request, patient_id: str, start: str | None = None,
                 end: str | None = None) -> dict[str, Any]:
    return _days(request, _patient_for_api(request, patient_id).id, start, end)


@api.get("/patients/{patient_id}/days/{day}", summary="A linked patient's sessions of one day",
         response_model=PracticeDay)
def patient_day(request: Request, patient_id: str, day: str) -> JSONResponse:
    return _day(request, _patient_for_api(request, patient_id).id, day)


@api.get("/patients/{patient_id}/trends", summary="A linked patient's scores over time")
def patient_trends(request: Request, patient_id: str, exercise: str | None = None) -> dict[str, Any]:
    return _trends(request, _patient_for_api(request, patient_id).id, exercise)


@api.get("/patients/{patient_id}/stats", summary="A linked patient's statistics")
def patient_stats(request: Request, patient_id: str, today: str | None = None) -> dict[str, Any]:
    return _stats(request, _patient_for_api(request, patient_id).id, today)


@api.get("/patients/{patient_id}/sessions/{session_id}", summary="One session of a linked patient",
         response_model=PracticeSessionDetail)
def patient_session(request: Request, patient_id: str, session_id: str) -> JSONResponse:
    return _session(request, _patient_for_api(request, patient_id).id, session_id)
