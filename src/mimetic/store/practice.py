"""Practice sessions and their exercise results: saving a session's result (docs/dev/practice-contract.md §3), the
calendar of days, trends per exercise, statistics and the user's export.

Every method takes the id of the user whose data it reads or writes, and never returns another user's rows: a
session id of someone else reads as "no such session". Who may look at whose data (a linked clinician) is decided
by :meth:`mimetic.store.accounts.AccountStore.can_view` before calling these.
"""

from __future__ import annotations

import csv
import io
import math
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import sessionmaker

from mimetic.store.db import aware, engine_of, upgrade, utcnow
from mimetic.store.models import ExerciseResultRow, Invitation, Link, LoginSession, PracticeSessionRow, User

EXPORT_FORMAT = "mimetic-practice-export"
EXPORT_VERSION = 1
#: the CSV export's columns: one row per exercise of each session (a session without exercises: one row)
CSV_COLUMNS = ("session_id", "day", "started_at", "finished_at", "routine", "session_score", "exercise", "position",
               "score", "left", "right", "symmetry", "hold", "stability", "synkinesis", "skipped",
               # issue 17: the session's affected side, calibration and Sunnybrook-shaped estimate (null = not tested)
               "partial", "affected_side", "calibration_quality", "calibration_attempts", "calibration_warnings",
               "sb_resting", "sb_voluntary", "sb_synkinesis", "sb_composite", "sb_not_tested")



def _iso(t: datetime | date | None) -> str | None:
    return t.isoformat() if t is not None else None


def clean_json(value: Any) -> Any:
    """``value`` with non-finite floats as None and tuples as lists (PostgreSQL's JSON refuses NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if hasattr(value, "item"):  # numpy scalars
        return clean_json(value.item())
    return str(value)


def _num(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _mean(values) -> float | None:
    vals = [v for v in values if v is not None]
    return round(sum(vals) / len(vals), 2) if vals else None


def _is_id(value) -> bool:
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value
    except (ValueError, AttributeError, TypeError):
        return False


def _exercise_dict(r: ExerciseResultRow) -> dict[str, Any]:
    return {"exercise": r.exercise, "position": r.position, "score": r.score, "left": r.left, "right": r.right,
            "symmetry": r.symmetry, "hold": r.hold, "stability": r.stability, "synkinesis": r.synkinesis,
            "skipped": r.skipped}


def _calibration_summary(result: Any) -> dict[str, Any] | None:
    """The stored calibration's quality, attempts and warnings (message keys), or None (issue 17)."""
    cal = result.get("calibration") if isinstance(result, dict) else None
    if not isinstance(cal, dict) or not cal:
        return None
    warnings = [w for w in cal.get("warnings") or []]
    return {"quality": cal.get("quality") or ("poor" if warnings else "good"), "attempts": cal.get("attempts", 1),
            "warnings": warnings, "refused": cal.get("refused") or []}


def _session_summary(row: PracticeSessionRow, exercises: list[ExerciseResultRow]) -> dict[str, Any]:
    result = row.result if isinstance(row.result, dict) else {}
    return {"id": row.id, "day": row.day.isoformat(), "started_at": _iso(aware(row.started_at)),
            "finished_at": _iso(aware(row.finished_at)), "routine": row.routine, "score": row.score,
            "exercises": [_exercise_dict(e) for e in sorted(exercises, key=lambda e: e.position)],
            "partial": bool(result.get("partial", False)), "affected_side": result.get("affected_side"),
            "calibration": _calibration_summary(result), "sunnybrook": row.sunnybrook}


def _routine_name(routine: Any) -> str:
    """A routine's name, or the comma-joined exercise ids of a custom list (at most 64 characters)."""
    if isinstance(routine, (list, tuple)):
        routine = ",".join(str(r) for r in routine)
    return str(routine or "")[:64]


class PracticeStore:
    """Practice sessions behind one database URL or engine. Thread-safe: every call opens its own short session."""

    def __init__(self, url_or_engine: str | Engine):
        self.engine, self._owns_engine = engine_of(url_or_engine)
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    def migrate(self) -> None:
        upgrade(self.engine)

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    # -- writes ------------------------------------------------------------------------------------------------
    def save_session(self, user_id: str, result: dict[str, Any], *, day: date, started_at: datetime,
                     finished_at: datetime) -> str:
        """Store one finished session (the §3 result) and a row per exercise; returns the new session's id.

        ``day`` is the patient's local date (the calendar's day); the times are stored in UTC.
        Raises ``KeyError`` when the user does not exist.
        """
        if not isinstance(result, dict):
            raise TypeError("result must be a dict (the session result)")
        if isinstance(day, datetime):
            day = day.date()
        result = clean_json(result)
        sid = str(uuid.uuid4())
        now = utcnow()
        exercises = result.get("exercises") or []
        with self._session.begin() as s:
            if not _is_id(user_id) or s.get(User, user_id) is None:
                raise KeyError(f"no such user: {user_id!r}")
            s.add(PracticeSessionRow(
                id=sid, user_id=user_id, day=day, started_at=_utc(started_at), finished_at=_utc(finished_at),
                routine=_routine_name(result.get("routine")), score=_num(result.get("score")), result=result,
                sunnybrook=result.get("sunnybrook") if isinstance(result.get("sunnybrook"), dict) else None,
                created_at=now))
            s.flush()
            for n, ex in enumerate(e for e in exercises if isinstance(e, dict)):
                syn = ex.get("synkinesis")
                s.add(ExerciseResultRow(
                    id=str(uuid.uuid4()), session_id=sid, user_id=user_id, position=n, day=day,
                    exercise=str(ex.get("id") or "")[:64], score=_num(ex.get("score")), left=_num(ex.get("left")),
                    right=_num(ex.get("right")), symmetry=_num(ex.get("symmetry")), hold=_num(ex.get("hold")),
                    stability=_num(ex.get("stability")),
                    synkinesis=len(syn) if isinstance(syn, list) else int(_num(syn) or 0),
                    skipped=bool(ex.get("skipped", False))))
        return sid

    def delete_session(self, user_id: str, session_id: str) -> bool:
        """Delete one of the user's sessions (and its exercise results); False when it is not theirs."""
        if not _is_id(session_id):
            return False
        with self._session.begin() as s:
            return s.execute(delete(PracticeSessionRow).where(PracticeSessionRow.id == session_id,
                                                              PracticeSessionRow.user_id == user_id)).rowcount > 0

    # -- reads -------------------------------------------------------------------------------------------------
    def days(self, user_id: str, start: date, end: date) -> dict[date, dict[str, Any]]:
        """Days from ``start`` to ``end`` (inclusive) with at least one session: {day: {"score": mean session
        score, "best": best session score, "sessions": count}}."""
        with self._session() as s:
            rows = s.execute(select(PracticeSessionRow.day, PracticeSessionRow.score)
                             .where(PracticeSessionRow.user_id == user_id, PracticeSessionRow.day >= start,
                                    PracticeSessionRow.day <= end)).all()
        by_day: dict[date, list[float | None]] = defaultdict(list)
        for d, score in rows:
            by_day[d].append(score)
        return {d: {"score": _mean(v), "best": max((x for x in v if x is not None), default=None),
                    "sessions": len(v)} for d, v in sorted(by_day.items())}

    def _sessions(self, user_id: str, *where) -> list[dict[str, Any]]:
        with self._session() as s:
            rows = list(s.scalars(select(PracticeSessionRow).where(PracticeSessionRow.user_id == user_id, *where)
                                  .order_by(PracticeSessionRow.started_at)))
            ex: dict[str, list[ExerciseResultRow]] = defaultdict(list)
            if rows:
                for e in s.scalars(select(ExerciseResultRow).where(
                        ExerciseResultRow.user_id == user_id,
                        ExerciseResultRow.session_id.in_([r.id for r in rows]))):
                    ex[e.session_id].append(e)
            return [_session_summary(r, ex[r.id]) for r in rows]

    def sessions_on(self, user_id: str, day: date) -> list[dict[str, Any]]:
        """The user's sessions on ``day``, in the order they were done, with their exercises."""
        return self._sessions(user_id, PracticeSessionRow.day == day)

    def session(self, user_id: str, session_id: str) -> dict[str, Any] | None:
        """One session with its full result and Sunnybrook estimate; None when there is none of this user's."""
        if not _is_id(session_id):
            return None
        with self._session() as s:
            row = s.scalar(select(PracticeSessionRow).where(PracticeSessionRow.id == session_id,
                                                            PracticeSessionRow.user_id == user_id))
            if row is None:
                return None
            exercises = list(s.scalars(select(ExerciseResultRow).where(ExerciseResultRow.session_id == row.id,
                                                                       ExerciseResultRow.user_id == user_id)))
            out = _session_summary(row, exercises)
            out["result"] = row.result
            out["sunnybrook"] = row.sunnybrook
            return out

    def trends(self, user_id: str, exercise: str | None = None) -> list[dict[str, Any]]:
        """One point per session × exercise (skipped ones left out), oldest first: day, started_at, session_id,
        exercise, score, left, right, symmetry, hold, stability, synkinesis."""
        q = (select(ExerciseResultRow, PracticeSessionRow.started_at)
             .join(PracticeSessionRow, PracticeSessionRow.id == ExerciseResultRow.session_id)
             .where(ExerciseResultRow.user_id == user_id, PracticeSessionRow.user_id == user_id,
                    ExerciseResultRow.skipped.is_(False)))
        if exercise is not None:
            q = q.where(ExerciseResultRow.exercise == exercise)
        q = q.order_by(PracticeSessionRow.started_at, ExerciseResultRow.position)
        with self._session() as s:
            rows = s.execute(q).all()
        out = []
        for r, started in rows:
            point = _exercise_dict(r)
            point.pop("skipped")
            point.pop("position")
            out.append({"day": r.day.isoformat(), "started_at": _iso(aware(started)), "session_id": r.session_id,
                        **point})
        return out

    def stats(self, user_id: str, *, today: date | None = None) -> dict[str, Any]:
        """Statistics of the user's practice.

        ``current_streak``: consecutive days with a session ending today, or yesterday when today has none yet
        (the streak is not lost before the day is over); ``longest_streak``; ``best_day`` (highest mean session
        score); ``best_session``; ``best_per_exercise``; ``weekly`` (ISO weeks: mean session score and count);
        totals. ``today`` is the patient's local date (default: the server's).
        """
        today = today or date.today()
        with self._session() as s:
            sessions = s.execute(select(PracticeSessionRow.id, PracticeSessionRow.day, PracticeSessionRow.score)
                                 .where(PracticeSessionRow.user_id == user_id)
                                 .order_by(PracticeSessionRow.day, PracticeSessionRow.started_at)).all()
            exercises = s.execute(select(ExerciseResultRow.exercise, ExerciseResultRow.score, ExerciseResultRow.day,
                                         ExerciseResultRow.session_id)
                                  .where(ExerciseResultRow.user_id == user_id,
                                         ExerciseResultRow.skipped.is_(False))).all()
        by_day: dict[date, list[float | None]] = defaultdict(list)
        for _sid, d, score in sessions:
            by_day[d].append(score)
        days = sorted(by_day)
        current, longest = _streaks(days, today)
        day_means = {d: _mean(v) for d, v in by_day.items()}
        scored_days = [(m, d) for d, m in day_means.items() if m is not None]
        best_day = None
        if scored_days:
            m, d = max(scored_days, key=lambda x: (x[0], x[1]))
            best_day = {"day": d.isoformat(), "score": m, "sessions": len(by_day[d])}
        scored_sessions = [(sc, d, sid) for sid, d, sc in sessions if sc is not None]
        best_session = None
        if scored_sessions:
            sc, d, sid = max(scored_sessions, key=lambda x: (x[0], x[1]))
            best_session = {"session_id": sid, "day": d.isoformat(), "score": sc}
        best_ex: dict[str, dict[str, Any]] = {}
        counts: dict[str, int] = defaultdict(int)
        for name, score, d, sid in exercises:
            counts[name] += 1
            if score is None:
                continue
            cur = best_ex.get(name)
            if cur is None or score > cur["score"]:
                best_ex[name] = {"score": score, "day": d.isoformat(), "session_id": sid}
        for name, n in counts.items():
            best_ex.setdefault(name, {"score": None, "day": None, "session_id": None})["count"] = n
        weeks: dict[tuple[int, int], list[float | None]] = defaultdict(list)
        for _sid, d, score in sessions:
            iso = d.isocalendar()
            weeks[(iso.year, iso.week)].append(score)
        weekly = [{"week": f"{y}-W{w:02d}", "start": date.fromisocalendar(y, w, 1).isoformat(), "score": _mean(v),
                   "sessions": len(v)} for (y, w), v in sorted(weeks.items())]
        return {
            "today": today.isoformat(),
            "current_streak": current, "longest_streak": longest,
            "practised_today": today in by_day,
            "best_day": best_day, "best_session": best_session,
            "best_per_exercise": dict(sorted(best_ex.items())),
            "weekly": weekly,
            "total_sessions": len(sessions), "total_days": len(days), "total_exercises": len(exercises),
            "average_score": _mean(sc for _sid, _d, sc in sessions),
            "first_day": days[0].isoformat() if days else None,
            "last_day": days[-1].isoformat() if days else None,
        }

    # -- export ------------------------------------------------------------------------------------------------
    def export(self, user_id: str) -> dict[str, Any]:
        """Everything stored about the user, JSON-able: profile (never the password hash), logins (times only),
        links, invitations, and every practice session with its full result and exercise rows."""
        with self._session() as s:
            user = s.get(User, user_id) if _is_id(user_id) else None
            if user is None:
                raise KeyError(f"no such user: {user_id!r}")
            profile = {"id": user.id, "email": user.email, "role": user.role, "display_name": user.display_name,
                       "affected_side": user.affected_side, "created_at": _iso(aware(user.created_at)),
                       "password_changed_at": _iso(aware(user.password_changed_at))}
            logins = [{"created_at": _iso(aware(r.created_at)), "expires_at": _iso(aware(r.expires_at))}
                      for r in s.scalars(select(LoginSession).where(LoginSession.user_id == user_id)
                                         .order_by(LoginSession.created_at))]

            def people(other, mine):
                q = (select(User, Link.created_at).join(Link, other == User.id).where(mine == user_id)
                     .order_by(Link.created_at))
                return [{"id": u.id, "display_name": u.display_name, "email": u.email, "linked_at": _iso(aware(t))}
                        for u, t in s.execute(q).all()]

            clinicians = people(Link.clinician_id, Link.patient_id)
            patients = people(Link.patient_id, Link.clinician_id)
            invitations = [{"code": r.code, "created_at": _iso(aware(r.created_at)),
                            "expires_at": _iso(aware(r.expires_at)), "used_at": _iso(aware(r.used_at))}
                           for r in s.scalars(select(Invitation).where(Invitation.clinician_id == user_id)
                                              .order_by(Invitation.created_at))]
            rows = list(s.scalars(select(PracticeSessionRow).where(PracticeSessionRow.user_id == user_id)
                                  .order_by(PracticeSessionRow.started_at)))
            ex: dict[str, list[ExerciseResultRow]] = defaultdict(list)
            for e in s.scalars(select(ExerciseResultRow).where(ExerciseResultRow.user_id == user_id)):
                ex[e.session_id].append(e)
            sessions = []
            for r in rows:
                item = _session_summary(r, ex[r.id])
                item["result"] = r.result
                item["sunnybrook"] = r.sunnybrook
                sessions.append(item)
        return {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "exported_at": utcnow().isoformat(),
                "user": profile, "logins": logins, "clinicians": clinicians, "patients": patients,
                "invitations": invitations, "sessions": sessions}

    def export_csv(self, user_id: str) -> str:
        """The user's practice as CSV (:data:`CSV_COLUMNS`): one row per exercise of each session."""
        data = self.export(user_id)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(CSV_COLUMNS)
        for sess in data["sessions"]:
            head = [sess["id"], sess["day"], sess["started_at"], sess["finished_at"], _cell(sess["routine"]),
                    _cell(sess["score"])]
            cal = sess.get("calibration") or {}
            sb = sess.get("sunnybrook") or {}
            tail = [sess.get("partial", False), _cell(sess.get("affected_side")), _cell(cal.get("quality")),
                    _cell(cal.get("attempts")),
                    _cell(" ".join(str(x.get("key", x)) if isinstance(x, dict) else str(x)
                                   for x in cal.get("warnings") or []) or None),
                    _cell(sb.get("resting_symmetry")), _cell(sb.get("voluntary_movement")),
                    _cell(sb.get("synkinesis")), _cell(sb.get("composite")),
                    _cell(" ".join(sb.get("not_tested") or []) or None)]
            if not sess["exercises"]:
                w.writerow(head + [""] * 10 + tail)
            for e in sess["exercises"]:
                w.writerow(head + [_cell(e[k]) for k in ("exercise", "position", "score", "left", "right",
                                                         "symmetry", "hold", "stability", "synkinesis",
                                                         "skipped")] + tail)
        return buf.getvalue()


def _cell(value: Any) -> Any:
    """A CSV cell; text that a spreadsheet would run as a formula is quoted with a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _utc(t: datetime) -> datetime:
    if not isinstance(t, datetime):
        raise TypeError("started_at and finished_at must be datetimes")
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _streaks(days: list[date], today: date) -> tuple[int, int]:
    """(current, longest) runs of consecutive days in sorted ``days``; the current run ends today or yesterday."""
    longest = run = 0
    prev: date | None = None
    for d in days:
        run = run + 1 if prev is not None and d - prev == timedelta(days=1) else 1
        longest = max(longest, run)
        prev = d
    current = 0
    have = set(days)
    d = today if today in have else today - timedelta(days=1)
    while d in have:
        current += 1
        d -= timedelta(days=1)
    return current, longest
