"""Staff users, sign-in (lockout, throttling, TOTP) and the audit log, without Flask
(b2bgateway.staff, b2bgateway.audit), and the ``b2bgateway users`` command."""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DatabaseError

from b2bgateway import audit, signin, staff, totp
from b2bgateway.audit import Actor
from b2bgateway.errors import InvalidRequest, NotFound
from b2bgateway.store.models import utcnow
from b2bgateway.store.staff_models import AuditEntry
from tests.support.panel import fast_hashing

PASSWORD = "correcto-caballo-batería"
CLI = Actor("acme", "cli:test", "local")


def _add(store, email="ana@acme.mx", role="admin", merchant="acme", with_totp=False):
    with store.write() as session:
        user = staff.add_user(session, CLI, merchant, email, "Ana", role, PASSWORD)
        secret = totp.issue(session, CLI, user) if with_totp else None
        return user.id, secret


def _sign_in(store, password=PASSWORD, address="10.0.0.1", email="ana@acme.mx", **kwargs):
    result = signin.sign_in(store, email, password, address, **kwargs)
    return result.user.id if result.user else None, result.refusal, result.until


def test_a_password_is_hashed_with_argon2_and_checked(store):
    user_id, _ = _add(store)
    with store.read() as session:
        user = staff.list_users(session, "acme")[0]
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
    assert _sign_in(store)[0] == user_id
    assert _sign_in(store, email=" ANA@acme.mx ")[0] == user_id
    assert _sign_in(store, password="no-es-la-clave")[1] is signin.Refusal.INVALID
    assert _sign_in(store, email="nadie@acme.mx")[1] is signin.Refusal.INVALID


@pytest.mark.parametrize(
    ("email", "role", "password"),
    [
        ("ana@acme.mx", "admin", "corta"),
        ("x@acme.mx", "jefe", PASSWORD),
        ("sin-arroba", "admin", PASSWORD),
    ],
)
def test_bad_users_are_refused(store, email, role, password):
    _add(store)
    with pytest.raises(InvalidRequest), store.write() as session:
        staff.add_user(session, CLI, "acme", email, "X", role, password)


def test_an_account_locks_after_five_failures_and_a_reset_unlocks_it(store, monkeypatch):
    fast_hashing(monkeypatch)
    _add(store)
    for _ in range(signin.MAX_ACCOUNT_FAILURES - 1):
        assert _sign_in(store, password="mal")[1] is signin.Refusal.INVALID
    _, refusal, until = _sign_in(store, password="mal")
    assert refusal is signin.Refusal.LOCKED
    assert until is not None and until > utcnow() + timedelta(minutes=14)
    # even the right password waits
    assert _sign_in(store)[1] is signin.Refusal.LOCKED
    # later, it works again
    later = utcnow() + signin.LOCKOUT + timedelta(seconds=1)
    assert _sign_in(store, now=later)[0] is not None
    with store.write() as session:
        staff.reset_password(session, CLI, "acme", "ana@acme.mx", PASSWORD + "2")
    assert _sign_in(store, password=PASSWORD + "2")[0] is not None


def test_an_address_with_many_failures_waits_whoever_it_tries(store, monkeypatch):
    fast_hashing(monkeypatch)
    _add(store)
    for n in range(signin.MAX_ADDRESS_FAILURES):
        _sign_in(store, email=f"otro{n}@acme.mx", password="mal", address="10.9.9.9")
    assert _sign_in(store, address="10.9.9.9")[1] is signin.Refusal.THROTTLED
    assert _sign_in(store, address="10.0.0.2")[0] is not None


def test_a_second_factor_is_asked_and_checked(store):
    _, secret = _add(store, with_totp=True)
    assert secret is not None
    assert _sign_in(store)[1] is signin.Refusal.CODE_REQUIRED
    assert _sign_in(store, code="000000")[1] is signin.Refusal.CODE_INVALID
    assert _sign_in(store, code=pyotp.TOTP(secret).now())[0] is not None


def test_an_admin_without_a_second_factor_is_refused_where_the_merchant_requires_it(store):
    _add(store)
    _add(store, email="caja@acme.mx", role="cobranza")
    required = frozenset({"acme"})
    # without an enrolment ticket the password alone is refused (the CLI or another admin)
    assert _sign_in(store, totp_required=required)[1] is signin.Refusal.SECOND_FACTOR_REQUIRED
    assert _sign_in(store, email="caja@acme.mx", totp_required=required)[0] is not None


def test_disable_and_sign_out_end_sessions(store):
    user_id, _ = _add(store)
    with store.read() as session:
        assert staff.user_for_session(session, user_id, 0) is not None
    with store.write() as session:
        staff.sign_out(session, user_id, "10.0.0.1")
    with store.read() as session:
        assert staff.user_for_session(session, user_id, 0) is None
        assert staff.user_for_session(session, user_id, 1) is not None
    with store.write() as session:
        staff.disable_user(session, CLI, "acme", "ana@acme.mx")
    with store.read() as session:
        assert staff.user_for_session(session, user_id, 2) is None
    assert _sign_in(store)[1] is signin.Refusal.INVALID
    with pytest.raises(NotFound), store.write() as session:
        staff.disable_user(session, CLI, "globex", "ana@acme.mx")


def test_roles(store):
    assert staff.can("admin", "refund") and staff.can("admin", "users")
    assert staff.can("cobranza", "manual_payment") and not staff.can("cobranza", "refund")
    assert staff.can("consulta", "view") and not staff.can("consulta", "manual_payment")
    assert not staff.can("nadie", "view")


def test_the_audit_log_keeps_every_sign_in_and_change_and_refuses_updates(store):
    _add(store)
    _sign_in(store)
    _sign_in(store, password="mal", address="10.0.0.7")
    with store.read() as session:
        rows = audit.entries(session, "acme")
        assert [(e.action, e.address) for e in rows] == [
            ("sign_in_failed", "10.0.0.7"),
            ("sign_in", "10.0.0.1"),
            ("user_added", "local"),
        ]
        assert [e.id for e in audit.entries(session, "acme", before_id=rows[0].id, limit=1)] == [
            rows[1].id
        ]
        assert len(list(audit.iter_entries(session, "acme"))) == 3
        assert audit.entries(session, "globex") == []
    with pytest.raises(DatabaseError), store.write() as session:
        session.execute(update(AuditEntry).values(action="sign_in"))
    with pytest.raises(DatabaseError), store.write() as session:
        session.execute(delete(AuditEntry))
    if store.engine.dialect.name == "postgresql":
        with pytest.raises(DatabaseError), store.write() as session:
            session.execute(text("TRUNCATE audit_log"))
    with pytest.raises(ValueError, match="unknown audit action"), store.write() as session:
        audit.record(session, CLI, "borrar")
    with store.read() as session:
        assert session.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == 3


# -- the command ---------------------------------------------------------------------------------


@pytest.fixture
def cli(settings, store, monkeypatch):
    """``b2bgateway`` with the tests' settings and store."""
    from click.testing import CliRunner

    from b2bgateway.gateway import Gateway
    from b2bgateway_web import cli as cli_module

    monkeypatch.setattr(cli_module, "_build", lambda: Gateway.build(settings, store=store))
    runner = CliRunner()
    return lambda *args, **kw: runner.invoke(cli_module.main, list(args), **kw)


def test_the_users_command_adds_lists_disables_and_resets(cli, store, monkeypatch):
    monkeypatch.setattr(store, "dispose", lambda: None)
    pw = f"{PASSWORD}\n{PASSWORD}\n"
    result = cli(
        "users",
        "add",
        "--merchant",
        "acme",
        "--email",
        "Ana@Acme.mx",
        "--name",
        "Ana",
        "--role",
        "admin",
        "--totp",
        input=pw,
    )
    assert result.exit_code == 0, result.output
    assert "otpauth://totp/" in result.output
    assert PASSWORD not in result.output
    again = cli(
        "users",
        "add",
        "--merchant",
        "acme",
        "--email",
        "ana@acme.mx",
        "--name",
        "A",
        "--role",
        "consulta",
        input=pw,
    )
    assert again.exit_code == 1 and "already has an account" in again.output
    short = cli(
        "users",
        "add",
        "--merchant",
        "acme",
        "--email",
        "b@acme.mx",
        "--name",
        "B",
        "--role",
        "consulta",
        input="corta\ncorta\n",
    )
    assert short.exit_code == 1 and "at least 12" in short.output
    assert cli("users", "list").output.split("\n")[0] == "acme\tana@acme.mx\tadmin\tactive\ttotp"
    assert cli("users", "disable", "--merchant", "acme", "ana@acme.mx").exit_code == 0
    assert "disabled" in cli("users", "list", "--merchant", "acme").output
    reset = cli("users", "reset-password", "--merchant", "acme", "ana@acme.mx", input=pw)
    assert reset.exit_code == 0, reset.output
    ticketed = cli(
        "users", "reset-password", "--merchant", "acme", "--totp-ticket", "ana@acme.mx", input=pw
    )
    assert ticketed.exit_code == 0, ticketed.output
    ticket = ticketed.output.rsplit(": ", 1)[1].strip()
    with store.read() as session:
        assert totp.ticket_matches(staff.find_user(session, "ana@acme.mx"), ticket)
    assert cli("users", "disable", "--merchant", "acme", "nadie@acme.mx").exit_code == 1
    rotated = cli("users", "rotate-totp-key")
    assert rotated.exit_code == 0 and "1 second factors encrypted" in rotated.output


def test_parallel_wrong_passwords_all_count_toward_the_lockout(store, monkeypatch):
    """Twelve tries at once (on PostgreSQL, really at once): each one counts."""
    fast_hashing(monkeypatch)
    _add(store)
    tries = 12
    together = threading.Barrier(tries, timeout=3)
    real = signin._password_ok

    def checked_together(user, password):
        ok = real(user, password)
        with contextlib.suppress(threading.BrokenBarrierError):
            together.wait()  # every try has read the account and checked its password
        return ok

    monkeypatch.setattr(signin, "_password_ok", checked_together)
    with ThreadPoolExecutor(max_workers=tries) as pool:
        refusals = list(pool.map(lambda _: _sign_in(store, password="mal")[1], range(tries)))
    assert signin.Refusal.LOCKED in refusals
    monkeypatch.setattr(signin, "_password_ok", real)
    assert _sign_in(store)[1] is signin.Refusal.LOCKED  # the right password waits too
    with store.read() as session:
        assert audit.failures_since(session, utcnow() - signin.LOCKOUT, email="ana@acme.mx") >= 12


def test_an_unknown_email_is_answered_and_locked_like_an_account(store, monkeypatch):
    fast_hashing(monkeypatch)
    _add(store)
    checked = []
    real = signin._password_ok
    monkeypatch.setattr(signin, "_password_ok", lambda u, p: checked.append(p) or real(u, p))
    for email in ("ana@acme.mx", "nadie@acme.mx"):
        answers = [_sign_in(store, email=email, password="mal")[1] for _ in range(6)]
        assert answers == [signin.Refusal.INVALID] * 4 + [signin.Refusal.LOCKED] * 2
    assert len(checked) == 12  # the password is checked (Argon2) every time, locked or not


def test_a_user_of_a_merchant_no_longer_configured_cannot_sign_in(store):
    _add(store, merchant="gone")
    known = frozenset({"acme"})
    assert _sign_in(store, merchants=known)[1] is signin.Refusal.INVALID
    assert _sign_in(store, merchants=frozenset({"gone"}))[0] is not None


def test_the_password_is_checked_outside_any_write_transaction(store, monkeypatch):
    """Argon2 takes a while: another writer (on SQLite there is one at a time) never waits on it."""
    _add(store)
    real, wrote = signin._password_ok, []

    def check_while_another_writes(user, password):
        def write():
            with store.write() as session:
                session.execute(text("SELECT 1"))
            wrote.append(True)

        other = threading.Thread(target=write)
        other.start()
        other.join(timeout=2)
        return real(user, password)

    monkeypatch.setattr(signin, "_password_ok", check_while_another_writes)
    assert _sign_in(store)[0] is not None
    assert wrote == [True]
