"""AccountStore on SQLite and PostgreSQL: users, passwords, logins, invitations, links, scoping, deletion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text, update
from storetools import cheap_hasher

from mimetic.store.accounts import AccountError, AccountStore, token_hash
from mimetic.store.models import Invitation, LoginSession, User


def test_create_user_normalises_and_hashes(accounts, engine):
    u = accounts.create_user("  Ana.Lee@Example.ORG ", "a long passphrase", display_name="  Ana   Lee ")
    assert u.email == "ana.lee@example.org" and u.role == "patient" and u.display_name == "Ana Lee"
    assert u.affected_side is None and u.created_at.tzinfo is not None
    with engine.connect() as conn:
        stored = conn.execute(select(User.password_hash).where(User.id == u.id)).scalar_one()
    assert stored.startswith("$argon2id$") and "a long passphrase" not in stored
    assert accounts.get_user(u.id) == u
    assert accounts.find_user("ANA.LEE@example.org") == u
    assert accounts.get_user("not-an-id") is None


@pytest.mark.parametrize("email,password,role,message", [
    ("x@example.org", "short", "patient", "at least 10"),
    ("longname@example.org", "LongName@Example.org", "patient", "not be your email"),
    ("longname12@example.org", "longname12", "patient", "not be your email"),
    ("x@example.org", "aaaaaaaaaaaa", "patient", "too easy"),
    ("x@example.org", "p" * 2000, "patient", "at most"),
    ("not an email", "a long passphrase", "patient", "valid email"),
    ("x@example.org", "a long passphrase", "admin", "role must be"),
])
def test_create_user_refuses(accounts, email, password, role, message):
    with pytest.raises(AccountError, match=message):
        accounts.create_user(email, password, role)
    assert accounts.find_user(email) is None


def test_duplicate_email_is_refused_whatever_the_case(accounts):
    accounts.create_user("ana@example.org", "a long passphrase")
    with pytest.raises(AccountError, match="already exists"):
        accounts.create_user("ANA@Example.org ", "another long passphrase")


def test_authenticate(accounts, people):
    assert accounts.authenticate("ANA@example.org", "ana's long passphrase") == people["ana"]
    assert accounts.authenticate("ana@example.org", "bo's long passphrase") is None
    assert accounts.authenticate("nobody@example.org", "ana's long passphrase") is None
    assert accounts.authenticate("", "") is None


def test_hash_is_upgraded_when_the_parameters_change(engine, accounts, people):
    from argon2 import PasswordHasher

    stronger = AccountStore(engine, hasher=PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1))
    get = select(User.password_hash).where(User.id == people["ana"].id)
    with engine.connect() as conn:
        before = conn.execute(get).scalar_one()
    assert "t=1" in before
    assert stronger.authenticate("ana@example.org", "wrong password!") is None
    with engine.connect() as conn:
        assert conn.execute(get).scalar_one() == before  # a failed login changes nothing
    assert stronger.authenticate("ana@example.org", "ana's long passphrase") == people["ana"]
    with engine.connect() as conn:
        after = conn.execute(get).scalar_one()
    assert after != before and "m=2048,t=2" in after
    assert accounts.authenticate("ana@example.org", "ana's long passphrase") == people["ana"]


def test_change_password(accounts, people):
    ana = people["ana"]
    assert accounts.change_password(ana.id, "wrong password", "a new long passphrase") is False
    with pytest.raises(AccountError, match="at least 10"):
        accounts.change_password(ana.id, "ana's long passphrase", "short")
    with pytest.raises(AccountError, match="different"):
        accounts.change_password(ana.id, "ana's long passphrase", "ana's long passphrase")
    assert accounts.change_password(ana.id, "ana's long passphrase", "a new long passphrase") is True
    assert accounts.authenticate("ana@example.org", "ana's long passphrase") is None
    assert accounts.authenticate("ana@example.org", "a new long passphrase") == ana
    # nobody changes someone else's password without theirs
    assert accounts.change_password(people["bo"].id, "a new long passphrase", "hijacked passphrase") is False
    assert accounts.authenticate("bo@example.org", "bo's long passphrase") == people["bo"]


def test_affected_side(accounts, people):
    ana = people["ana"]
    assert accounts.set_affected_side(ana.id, "left").affected_side == "left"
    assert accounts.get_user(ana.id).affected_side == "left"
    assert accounts.set_affected_side(ana.id, "none").affected_side is None
    with pytest.raises(AccountError, match="left, right or none"):
        accounts.set_affected_side(ana.id, "middle")
    assert accounts.get_user(people["bo"].id).affected_side is None


def test_logins(accounts, people, engine):
    ana, bo = people["ana"], people["bo"]
    t1, csrf1 = accounts.start_login(ana.id)
    t2, csrf2 = accounts.start_login(ana.id)
    t3, _ = accounts.start_login(bo.id)
    assert len(t1) >= 40 and csrf1 != csrf2 and t1 != t2
    assert accounts.user_for_token(t1) == (ana, csrf1)
    assert accounts.user_for_token(t3)[0] == bo
    assert accounts.user_for_token("forged") is None and accounts.user_for_token("") is None
    with engine.connect() as conn:
        hashes = set(conn.execute(select(LoginSession.token_hash)).scalars())
    assert token_hash(t1) in hashes and t1 not in hashes  # only the SHA-256 is stored
    assert accounts.end_login(t1) is True and accounts.user_for_token(t1) is None
    assert accounts.end_login(t1) is False
    t4, _ = accounts.start_login(ana.id)
    assert accounts.end_all_logins(ana.id, except_token=t4) == 1  # t2
    assert accounts.user_for_token(t2) is None and accounts.user_for_token(t4)[0] == ana
    assert accounts.user_for_token(t3)[0] == bo  # Bo's login is untouched
    assert accounts.logins_of(ana.id) == 1


def test_logins_expire(engine, people):
    short = AccountStore(engine, hasher=cheap_hasher(), session_lifetime=timedelta(seconds=-1))
    token, _ = short.start_login(people["ana"].id)
    assert short.user_for_token(token) is None
    with engine.connect() as conn:  # the expired row is gone
        assert conn.execute(select(LoginSession.id).where(LoginSession.token_hash == token_hash(token))).first() is None
    short.start_login(people["ana"].id)
    assert short.purge_expired() == 1


def test_invitation_flow(accounts, people):
    ana, bo, c, d = people["ana"], people["bo"], people["dr_c"], people["dr_d"]
    with pytest.raises(AccountError, match="Only clinicians"):
        accounts.create_invitation(ana.id)
    code = accounts.create_invitation(c.id)
    assert len(code) == 11 and code[5] == "-"
    assert [i.code for i in accounts.invitations_of(c.id)] == [code] and accounts.invitations_of(d.id) == []
    with pytest.raises(AccountError, match="Only patients"):
        accounts.redeem_invitation(d.id, code)
    assert accounts.redeem_invitation(ana.id, f"  {code.lower().replace('-', ' ')} ") == c
    inv = accounts.invitations_of(c.id)[0]
    assert inv.used_by == ana.id and inv.used_at is not None and not inv.usable
    with pytest.raises(AccountError, match="already been used"):
        accounts.redeem_invitation(bo.id, code)  # single use
    with pytest.raises(AccountError, match="does not exist"):
        accounts.redeem_invitation(bo.id, "ABCDE-FGHJK")
    with pytest.raises(AccountError, match="already linked"):
        accounts.redeem_invitation(ana.id, accounts.create_invitation(c.id))
    assert accounts.patients_of(c.id) == [ana] and accounts.clinicians_of(ana.id) == [c]
    assert accounts.patients_of(d.id) == [] and accounts.clinicians_of(bo.id) == []
    assert accounts.can_view(c.id, ana.id) and accounts.can_view(ana.id, ana.id)
    assert not accounts.can_view(d.id, ana.id) and not accounts.can_view(c.id, bo.id)
    assert not accounts.can_view(ana.id, c.id) and not accounts.can_view(bo.id, ana.id)  # links are one-way
    assert accounts.unlink(bo.id, c.id) is False  # Bo was never linked
    assert accounts.unlink(ana.id, c.id) is True
    assert not accounts.can_view(c.id, ana.id) and accounts.patients_of(c.id) == []


def test_expired_and_revoked_invitations(accounts, people, engine):
    c = people["dr_c"]
    code = accounts.create_invitation(c.id)
    with engine.begin() as conn:
        conn.execute(update(Invitation).values(expires_at=datetime(2020, 1, 1, tzinfo=UTC)))
    with pytest.raises(AccountError, match="expired"):
        accounts.redeem_invitation(people["ana"].id, code)
    code2 = accounts.create_invitation(c.id)
    assert accounts.revoke_invitation(people["dr_d"].id, code2) is False  # not Dr D's
    assert accounts.revoke_invitation(c.id, code2) is True
    with pytest.raises(AccountError, match="does not exist"):
        accounts.redeem_invitation(people["ana"].id, code2)


def _rows_of(engine, user_id: str) -> dict[str, int]:
    counts = {}
    with engine.connect() as conn:
        for table, cols in {"users": ["id"], "login_sessions": ["user_id"], "invitations": ["clinician_id", "used_by"],
                            "links": ["patient_id", "clinician_id"], "practice_sessions": ["user_id"],
                            "exercise_results": ["user_id"]}.items():
            where = " OR ".join(f"{c} = :u" for c in cols)
            counts[table] = conn.execute(text(f"SELECT COUNT(*) FROM {table} WHERE {where}"), {"u": user_id}).scalar()
    return counts


def test_delete_user_removes_everything_of_theirs(accounts, practice, people, engine):
    from datetime import date

    from storetools import make_result

    ana, bo, c = people["ana"], people["bo"], people["dr_c"]
    accounts.redeem_invitation(ana.id, accounts.create_invitation(c.id))
    accounts.redeem_invitation(bo.id, accounts.create_invitation(c.id))
    now = datetime.now(UTC)
    for who in (ana, bo):
        accounts.start_login(who.id)
        practice.save_session(who.id, make_result(exercises=(("brow_raise", 50.0), ("lip_pucker", 60.0))),
                              day=date(2026, 11, 20), started_at=now, finished_at=now)
    before = _rows_of(engine, ana.id)
    assert before == {"users": 1, "login_sessions": 1, "invitations": 1, "links": 1, "practice_sessions": 1,
                      "exercise_results": 2}
    bo_before = _rows_of(engine, bo.id)
    assert accounts.delete_user(ana.id) is True
    assert set(_rows_of(engine, ana.id).values()) == {0}
    assert _rows_of(engine, bo.id) == bo_before  # nobody else's data goes
    assert accounts.get_user(ana.id) is None and accounts.authenticate("ana@example.org", "ana's long passphrase") is None
    assert accounts.patients_of(c.id) == [bo]
    assert accounts.delete_user(ana.id) is False
    # a clinician's deletion takes their invitations and links, not their patients' practice
    assert accounts.delete_user(c.id) is True
    assert accounts.clinicians_of(bo.id) == [] and len(practice.sessions_on(bo.id, date(2026, 11, 20))) == 1
