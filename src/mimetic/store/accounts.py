"""Accounts: users with argon2id password hashes, login sessions, clinicians' invitation codes and the links
between patients and clinicians.

>>> from mimetic.store.accounts import AccountStore
>>> accounts = AccountStore("sqlite:////tmp/mimetic.db")
>>> accounts.migrate()
>>> pat = accounts.create_user("Ana@Example.org", "a long passphrase", display_name="Ana")
>>> token, csrf = accounts.start_login(pat.id)       # the token goes in the cookie; only its SHA-256 is stored
>>> accounts.user_for_token(token)[0].email
'ana@example.org'

Every method takes the id of the user it acts for and touches only that user's rows (a clinician reaches a patient
only through a link the patient made). Callers get frozen dataclass snapshots, never live ORM objects.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from mimetic.store.db import aware, engine_of, upgrade, utcnow
from mimetic.store.models import Invitation, Link, LoginSession, User

ROLES = ("patient", "clinician")
SIDES = ("left", "right")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # argon2 hashes anything, but a megabyte "password" is a denial of service, not a secret
MAX_NAME = 100
#: how long a login lasts unless it ends earlier (logout, password change, account deletion)
SESSION_LIFETIME = timedelta(days=14)
#: how long an invitation code can be redeemed
INVITATION_LIFETIME = timedelta(days=7)
#: invitation codes: 10 characters without look-alikes (0/O, 1/I/L), shown as XXXXX-XXXXX (50 bits)
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


#: catalogue key -> English message of every :class:`AccountError` raised here. The web pages show the key's text
#: from ``mimetic/web/locales/accounts/<lang>.json`` (whose English entries are these very strings), with the same
#: ``{placeholders}``.
ERRORS = {
    "accounts.error.email_invalid": "Enter a valid email address, such as name@example.org.",
    "accounts.error.email_taken": "An account with this email address already exists.",
    "accounts.error.password_short": "The password must be at least {min} characters long.",
    "accounts.error.password_long": "The password must be at most {max} characters long.",
    "accounts.error.password_is_email": "The password must not be your email address.",
    "accounts.error.password_guessable":
        "The password is too easy to guess: use a few different words or characters.",
    "accounts.error.password_same": "The new password must be different from the current one.",
    "accounts.error.role": "The role must be one of: {roles}.",
    "accounts.error.name_long": "The name must be at most {max} characters long.",
    "accounts.error.side": "The affected side must be left, right or none.",
    "accounts.error.no_account": "No such account.",
    "accounts.error.invite_clinicians_only": "Only clinicians can create invitation codes.",
    "accounts.error.invite_failed": "Could not create an invitation code; try again.",
    "accounts.error.link_patients_only": "Only patients can link to a clinician.",
    "accounts.error.code_missing": "Enter the invitation code your clinician gave you.",
    "accounts.error.code_unknown": "This invitation code does not exist. Check it with your clinician.",
    "accounts.error.code_used": "This invitation code has already been used; ask your clinician for a new one.",
    "accounts.error.code_expired": "This invitation code has expired; ask your clinician for a new one.",
    "accounts.error.already_linked": "You are already linked to this clinician.",
}


class AccountError(ValueError):
    """A request about accounts that cannot be done; ``str(error)`` is a message for the person (in English).

    ``key`` names the message in the UI catalogues (``accounts.error.*``, None for a message without one) and
    ``values`` fills its ``{placeholders}``, so the web pages can show it in the visitor's language::

        raise AccountError.of("accounts.error.password_short", min=10)
    """

    def __init__(self, message: str, *, key: str | None = None, values: dict | None = None):
        super().__init__(message)
        self.key = key
        self.values = dict(values or {})

    @classmethod
    def of(cls, key: str, **values) -> "AccountError":
        """The error with catalogue key ``key`` (one of :data:`ERRORS`), its English text filled in."""
        return cls(ERRORS[key].format(**values), key=key, values=values)


def token_hash(token: str) -> str:
    """SHA-256 (hex) of a login token: what the database keeps instead of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def normalise_email(email: str) -> str:
    """Trimmed and lower-cased; raises :class:`AccountError` when it does not look like an address."""
    e = (email or "").strip().lower()
    if not e or len(e) > 254 or not _EMAIL.match(e):
        raise AccountError.of("accounts.error.email_invalid")
    return e


def check_password(password: str, email: str = "") -> None:
    """The password policy: at least 10 characters, at most 1024, and not the email address (or its name part)."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise AccountError.of("accounts.error.password_short", min=MIN_PASSWORD)
    if len(password) > MAX_PASSWORD:
        raise AccountError.of("accounts.error.password_long", max=MAX_PASSWORD)
    if email:
        p = password.strip().lower()
        e = email.strip().lower()
        if p == e or p == e.split("@", 1)[0]:
            raise AccountError.of("accounts.error.password_is_email")
    if len(set(password)) < 3:
        raise AccountError.of("accounts.error.password_guessable")


def normalise_code(code: str) -> str:
    return re.sub(r"[\s\-]", "", (code or "")).upper()


def format_code(code: str) -> str:
    return f"{code[:5]}-{code[5:]}" if len(code) == CODE_LENGTH else code


@dataclass(frozen=True)
class UserRecord:
    id: str
    email: str
    role: str
    display_name: str
    created_at: datetime
    affected_side: str | None = None

    @classmethod
    def of(cls, row: User) -> "UserRecord":
        return cls(id=row.id, email=row.email, role=row.role, display_name=row.display_name,
                   created_at=aware(row.created_at), affected_side=row.affected_side)

    @property
    def name(self) -> str:
        """What to call them: the display name, else the email address."""
        return self.display_name or self.email

    @property
    def is_clinician(self) -> bool:
        return self.role == "clinician"

    def to_dict(self) -> dict:
        return {"id": self.id, "email": self.email, "role": self.role, "display_name": self.display_name,
                "affected_side": self.affected_side, "created_at": self.created_at.isoformat()}


@dataclass(frozen=True)
class InvitationRecord:
    code: str  # as shown: XXXXX-XXXXX
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    used_by: str | None = None  # the patient's id

    @property
    def usable(self) -> bool:
        return self.used_at is None and self.expires_at > utcnow()


class AccountStore:
    """Users, logins, invitations and links behind one database. Thread-safe: every call opens a short session.

    ``hasher`` is the argon2 :class:`~argon2.PasswordHasher` (default: argon2-cffi's RFC 9106 low-memory profile,
    argon2id, t=3, m=64 MiB, p=4). A stored hash made with other parameters is replaced at the next login.
    """

    def __init__(self, url_or_engine: str | Engine, *, hasher: PasswordHasher | None = None,
                 session_lifetime: timedelta = SESSION_LIFETIME,
                 invitation_lifetime: timedelta = INVITATION_LIFETIME):
        self.engine, self._owns_engine = engine_of(url_or_engine)
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self.hasher = hasher or PasswordHasher()
        self.session_lifetime = session_lifetime
        self.invitation_lifetime = invitation_lifetime
        self._dummy: str | None = None

    def migrate(self) -> None:
        upgrade(self.engine)

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    # -- users -------------------------------------------------------------------------------------------------
    def create_user(self, email: str, password: str, role: str = "patient", display_name: str = "") -> UserRecord:
        email = normalise_email(email)
        if role not in ROLES:
            raise AccountError.of("accounts.error.role", roles=", ".join(ROLES))
        check_password(password, email)
        name = " ".join((display_name or "").split())
        if len(name) > MAX_NAME:
            raise AccountError.of("accounts.error.name_long", max=MAX_NAME)
        now = utcnow()
        row = User(id=str(uuid.uuid4()), email=email, password_hash=self.hasher.hash(password), role=role,
                   display_name=name, affected_side=None, created_at=now, password_changed_at=now)
        try:
            with self._session.begin() as s:
                if s.scalar(select(User.id).where(User.email == email)) is not None:
                    raise AccountError.of("accounts.error.email_taken")
                s.add(row)
                s.flush()
                return UserRecord.of(row)
        except IntegrityError:  # a concurrent registration with the same address
            raise AccountError.of("accounts.error.email_taken") from None

    def get_user(self, user_id: str) -> UserRecord | None:
        if not _is_id(user_id):
            return None
        with self._session() as s:
            row = s.get(User, user_id)
            return UserRecord.of(row) if row is not None else None

    def find_user(self, email: str) -> UserRecord | None:
        try:
            email = normalise_email(email)
        except AccountError:
            return None
        with self._session() as s:
            row = s.scalar(select(User).where(User.email == email))
            return UserRecord.of(row) if row is not None else None

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def authenticate(self, email: str, password: str) -> UserRecord | None:
        """The user when the password is right, else None (in about the same time whether or not the address
        exists). A hash made with older argon2 parameters is upgraded here."""
        try:
            email = normalise_email(email)
        except AccountError:
            email = ""
        if not isinstance(password, str) or len(password) > MAX_PASSWORD:
            return None
        with self._session() as s:
            row = s.scalar(select(User).where(User.email == email)) if email else None
            if row is None:  # spend the same time as for a real account
                self._dummy = self._dummy or self.hasher.hash("not a real password, only for timing")
                self._verify(self._dummy, password)
                return None
            if not self._verify(row.password_hash, password):
                return None
            user = UserRecord.of(row)
            stale = self.hasher.check_needs_rehash(row.password_hash)
        if stale:
            with self._session.begin() as s:
                s.execute(update(User).where(User.id == user.id).values(password_hash=self.hasher.hash(password)))
        return user

    def change_password(self, user_id: str, old: str, new: str) -> bool:
        """False when ``old`` is wrong; raises :class:`AccountError` when ``new`` breaks the policy. The caller
        ends the user's other logins (:meth:`end_all_logins`)."""
        with self._session() as s:
            row = s.get(User, user_id) if _is_id(user_id) else None
            if row is None or not self._verify(row.password_hash, old or ""):
                return False
            email = row.email
        check_password(new, email)
        if new == old:
            raise AccountError.of("accounts.error.password_same")
        with self._session.begin() as s:
            s.execute(update(User).where(User.id == user_id)
                      .values(password_hash=self.hasher.hash(new), password_changed_at=utcnow()))
        return True

    def check_user_password(self, user_id: str, password: str) -> bool:
        """Whether ``password`` is this user's (to confirm something drastic, such as deleting the account)."""
        with self._session() as s:
            row = s.get(User, user_id) if _is_id(user_id) else None
            return row is not None and self._verify(row.password_hash, password or "")

    def set_affected_side(self, user_id: str, side: str | None) -> UserRecord | None:
        """``"left"``, ``"right"`` or None/``"none"`` (the person's own side, used by the practice scoring)."""
        side = None if side in (None, "", "none") else side
        if side is not None and side not in SIDES:
            raise AccountError.of("accounts.error.side")
        return self._set(user_id, affected_side=side)

    def set_display_name(self, user_id: str, name: str) -> UserRecord | None:
        name = " ".join((name or "").split())
        if len(name) > MAX_NAME:
            raise AccountError.of("accounts.error.name_long", max=MAX_NAME)
        return self._set(user_id, display_name=name)

    def _set(self, user_id: str, **values) -> UserRecord | None:
        with self._session.begin() as s:
            row = s.get(User, user_id) if _is_id(user_id) else None
            if row is None:
                return None
            for k, v in values.items():
                setattr(row, k, v)
            s.flush()
            return UserRecord.of(row)

    def delete_user(self, user_id: str) -> bool:
        """Delete the user and, by cascade, everything of theirs: logins, invitations, links, practice sessions and
        exercise results."""
        if not _is_id(user_id):
            return False
        with self._session.begin() as s:
            return s.execute(delete(User).where(User.id == user_id)).rowcount > 0

    # -- logins ------------------------------------------------------------------------------------------------
    def start_login(self, user_id: str) -> tuple[str, str]:
        """A new login for the user: (token for the cookie, CSRF token bound to this login)."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = utcnow()
        with self._session.begin() as s:
            s.add(LoginSession(id=str(uuid.uuid4()), token_hash=token_hash(token), user_id=user_id, csrf=csrf,
                               created_at=now, expires_at=now + self.session_lifetime))
        return token, csrf

    def user_for_token(self, token: str | None) -> tuple[UserRecord, str] | None:
        """(user, CSRF token) of a live login, or None (unknown, ended or expired)."""
        if not token or len(token) > 200:
            return None
        with self._session() as s:
            found = s.execute(select(LoginSession, User).join(User, User.id == LoginSession.user_id)
                              .where(LoginSession.token_hash == token_hash(token))).first()
            if found is None:
                return None
            login, user = found
            if aware(login.expires_at) <= utcnow():
                expired = login.id
            else:
                return UserRecord.of(user), login.csrf
        with self._session.begin() as s:
            s.execute(delete(LoginSession).where(LoginSession.id == expired))
        return None

    def end_login(self, token: str | None) -> bool:
        if not token:
            return False
        with self._session.begin() as s:
            return s.execute(delete(LoginSession).where(LoginSession.token_hash == token_hash(token))).rowcount > 0

    def end_all_logins(self, user_id: str, except_token: str | None = None) -> int:
        """End every login of the user (but the one with ``except_token``); how many ended."""
        q = delete(LoginSession).where(LoginSession.user_id == user_id)
        if except_token:
            q = q.where(LoginSession.token_hash != token_hash(except_token))
        with self._session.begin() as s:
            return s.execute(q).rowcount

    def logins_of(self, user_id: str) -> int:
        """How many live logins the user has."""
        with self._session() as s:
            return len(list(s.scalars(select(LoginSession.id).where(LoginSession.user_id == user_id,
                                                                     LoginSession.expires_at > utcnow()))))

    def purge_expired(self) -> int:
        """Delete expired logins; how many."""
        with self._session.begin() as s:
            return s.execute(delete(LoginSession).where(LoginSession.expires_at <= utcnow())).rowcount

    # -- invitations and links ---------------------------------------------------------------------------------
    def create_invitation(self, clinician_id: str) -> str:
        """A new single-use invitation code (``XXXXX-XXXXX``) from a clinician."""
        user = self.get_user(clinician_id)
        if user is None or user.role != "clinician":
            raise AccountError.of("accounts.error.invite_clinicians_only")
        now = utcnow()
        for _ in range(5):
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            try:
                with self._session.begin() as s:
                    s.add(Invitation(id=str(uuid.uuid4()), code=code, clinician_id=clinician_id, created_at=now,
                                     expires_at=now + self.invitation_lifetime))
                return format_code(code)
            except IntegrityError:  # pragma: no cover - a 50-bit collision
                continue
        raise AccountError.of("accounts.error.invite_failed")  # pragma: no cover

    def invitations_of(self, clinician_id: str) -> list[InvitationRecord]:
        """The clinician's invitation codes, newest first."""
        with self._session() as s:
            rows = s.scalars(select(Invitation).where(Invitation.clinician_id == clinician_id)
                             .order_by(Invitation.created_at.desc()))
            return [InvitationRecord(code=format_code(r.code), created_at=aware(r.created_at),
                                     expires_at=aware(r.expires_at), used_at=aware(r.used_at), used_by=r.used_by)
                    for r in rows]

    def revoke_invitation(self, clinician_id: str, code: str) -> bool:
        """Delete one of the clinician's unused codes."""
        with self._session.begin() as s:
            return s.execute(delete(Invitation).where(Invitation.clinician_id == clinician_id,
                                                      Invitation.code == normalise_code(code),
                                                      Invitation.used_at.is_(None))).rowcount > 0

    def redeem_invitation(self, patient_id: str, code: str) -> UserRecord:
        """Link the patient to the clinician who made ``code`` (used up by this); returns the clinician."""
        patient = self.get_user(patient_id)
        if patient is None:
            raise AccountError.of("accounts.error.no_account")
        if patient.role != "patient":
            raise AccountError.of("accounts.error.link_patients_only")
        code = normalise_code(code)
        if not code or len(code) > 16:
            raise AccountError.of("accounts.error.code_missing")
        now = utcnow()
        with self._session.begin() as s:
            inv = s.scalar(select(Invitation).where(Invitation.code == code))
            if inv is None:
                raise AccountError.of("accounts.error.code_unknown")
            if inv.used_at is not None:
                raise AccountError.of("accounts.error.code_used")
            if aware(inv.expires_at) <= now:
                raise AccountError.of("accounts.error.code_expired")
            clinician = s.get(User, inv.clinician_id)
            if s.scalar(select(Link.id).where(Link.patient_id == patient_id,
                                              Link.clinician_id == inv.clinician_id)) is not None:
                raise AccountError.of("accounts.error.already_linked")
            # single use, even when two patients redeem the same code at once
            taken = s.execute(update(Invitation).where(Invitation.id == inv.id, Invitation.used_at.is_(None))
                              .values(used_at=now, used_by=patient_id)).rowcount
            if taken != 1:  # pragma: no cover - a race
                raise AccountError.of("accounts.error.code_used")
            s.add(Link(id=str(uuid.uuid4()), patient_id=patient_id, clinician_id=inv.clinician_id, created_at=now))
            return UserRecord.of(clinician)

    def unlink(self, patient_id: str, clinician_id: str) -> bool:
        """End the link between a patient and a clinician (either of them may); False when there was none."""
        if not (_is_id(patient_id) and _is_id(clinician_id)):
            return False
        with self._session.begin() as s:
            return s.execute(delete(Link).where(Link.patient_id == patient_id,
                                                Link.clinician_id == clinician_id)).rowcount > 0

    def patients_of(self, clinician_id: str) -> list[UserRecord]:
        with self._session() as s:
            rows = s.scalars(select(User).join(Link, Link.patient_id == User.id)
                             .where(Link.clinician_id == clinician_id).order_by(User.display_name, User.email))
            return [UserRecord.of(r) for r in rows]

    def clinicians_of(self, patient_id: str) -> list[UserRecord]:
        with self._session() as s:
            rows = s.scalars(select(User).join(Link, Link.clinician_id == User.id)
                             .where(Link.patient_id == patient_id).order_by(User.display_name, User.email))
            return [UserRecord.of(r) for r in rows]

    def can_view(self, viewer_id: str | None, patient_id: str | None) -> bool:
        """Whether ``viewer_id`` may see ``patient_id``'s practice: themselves, or a clinician they linked to."""
        if not viewer_id or not patient_id or not _is_id(viewer_id) or not _is_id(patient_id):
            return False
        if viewer_id == patient_id:
            return self.get_user(viewer_id) is not None
        with self._session() as s:
            return s.scalar(select(Link.id).where(Link.patient_id == patient_id,
                                                  Link.clinician_id == viewer_id)) is not None


def _is_id(value) -> bool:
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value
    except (ValueError, AttributeError, TypeError):
        return False
