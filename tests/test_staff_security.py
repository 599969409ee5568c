"""The payments module's sign-in after its security review, without Flask: a TOTP code is
accepted once, TOTP secrets are encrypted at rest (also those made before), passwords are
rehashed when Argon2's parameters change, IPv6 is throttled per /64, and a stranger cannot keep
an account locked (per e-mail and network, a much higher ceiling per e-mail, the user's own
network exempt from that ceiling)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import text

from b2bgateway import signin, staff, throttle, totp
from b2bgateway.audit import Actor
from b2bgateway.store import Store
from b2bgateway.store.db import downgrade, upgrade
from b2bgateway.store.models import utcnow
from b2bgateway.store.staff_models import StaffUser
from tests.support.panel import fast_hashing

PASSWORD = "correcto-caballo-batería"
CLI = Actor("acme", "cli:test", "local")


@pytest.fixture(autouse=True)
def _fast(monkeypatch):
    fast_hashing(monkeypatch)


def _add(store, email="ana@acme.mx", role="admin", with_totp=False):
    with store.write() as session:
        user = staff.add_user(session, CLI, "acme", email, "Ana", role, PASSWORD)
        secret = totp.issue(session, CLI, user) if with_totp else None
        return user.id, secret


def _refusal(store, address="10.0.0.1", password=PASSWORD, email="ana@acme.mx", **kwargs):
    result = signin.sign_in(store, email, password, address, **kwargs)
    return "ok" if result.user is not None else result.refusal


def _code(secret, moment):
    return pyotp.TOTP(secret).at(moment)


# -- 1. a code is accepted once ------------------------------------------------------------------


def test_a_code_is_accepted_once_even_within_the_drift_window(store):
    _, secret = _add(store, with_totp=True)
    now = utcnow()
    assert _refusal(store, code=_code(secret, now), now=now) == "ok"
    # the same code again, now or 20 seconds later (still in the window): refused
    assert _refusal(store, code=_code(secret, now), now=now) is signin.Refusal.CODE_INVALID
    later = now + timedelta(seconds=20)
    assert _refusal(store, code=_code(secret, now), now=later) is signin.Refusal.CODE_INVALID
    # the previous step's code, still inside the drift window: older than the one used, refused
    before = now - timedelta(seconds=totp.STEP)
    assert _refusal(store, code=_code(secret, before), now=now) is signin.Refusal.CODE_INVALID
    # the next step's code is new: accepted once
    after = now + timedelta(seconds=totp.STEP)
    assert _refusal(store, code=_code(secret, after), now=after) == "ok"
    assert _refusal(store, code=_code(secret, after), now=after) is signin.Refusal.CODE_INVALID


def test_a_code_from_outside_the_drift_window_is_refused(store):
    _, secret = _add(store, with_totp=True)
    now = utcnow()
    old = now - timedelta(seconds=3 * totp.STEP)
    assert _refusal(store, code=_code(secret, old), now=now) is signin.Refusal.CODE_INVALID
    assert totp.matching_step(secret, "12345a", now) is None
    assert totp.matching_step(secret, "1234567", now) is None


# -- 2. secrets encrypted at rest -------------------------------------------------------------------


def test_a_secret_is_kept_encrypted_and_opens_only_with_the_gateways_key(store):
    user_id, secret = _add(store, with_totp=True)
    with store.read() as session:
        stored = session.execute(
            text("SELECT totp_ciphertext FROM staff_users WHERE id = :id"), {"id": user_id}
        ).scalar_one()
        columns = session.execute(text("SELECT * FROM staff_users")).keys()
        assert totp.decrypt(session, stored) == secret
    assert secret not in stored and stored.startswith("gAAAAA")  # a Fernet token
    assert "totp_secret" not in columns
    with store.write() as session:  # another gateway's key (or a lost one): refused, not guessed
        session.execute(text("UPDATE app_secrets SET value = :v"), {"v": "ab" * 32})
    with store.read() as session, pytest.raises(RuntimeError, match="totp_key"):
        totp.decrypt(session, stored)


def test_an_enrolment_waits_for_a_code_of_its_secret_and_is_audited(store):
    user_id, _ = _add(store)
    with store.write() as session:
        user = session.get(StaffUser, user_id)
        version = user.session_version
        secret, token = totp.start(session)
        assert totp.waiting(session, token) == secret  # the same while the session keeps it
        assert secret not in token and user.totp_ciphertext is None  # nothing in the database
        assert not totp.confirm_enrolment(session, CLI, user, token, "000000")
        assert not totp.confirm_enrolment(session, CLI, user, None, pyotp.TOTP(secret).now())
        assert user.totp_ciphertext is None
        assert totp.confirm_enrolment(session, CLI, user, token, pyotp.TOTP(secret).now())
        assert user.totp_ciphertext is not None
        assert user.session_version == version + 1  # every other session ends
    # the code that confirmed it was used: signing in needs the next one
    now = utcnow()
    assert _refusal(store, code=_code(secret, now), now=now) is signin.Refusal.CODE_INVALID
    later = now + timedelta(seconds=totp.STEP)
    assert _refusal(store, code=_code(secret, later), now=later) == "ok"
    with store.read() as session:
        actions = session.execute(text("SELECT action FROM audit_log ORDER BY id")).scalars()
        assert "totp_enrolled" in list(actions)


def test_each_enrolment_has_its_own_secret_and_it_expires(store):
    user_id, _ = _add(store)
    now = utcnow()
    with store.write() as session:
        user = session.get(StaffUser, user_id)
        first, token_a = totp.start(session, now)
        second, token_b = totp.start(session, now)
        assert first != second
        late = now + timedelta(seconds=totp.ENROL_TIME + 1)
        assert totp.waiting(session, token_a, late) is None  # never shown or confirmable again
        assert totp.enrolment(session, user_id, token_a, now=late).secret not in (first, None)
        code_a = _code(first, late)
        assert not totp.confirm_enrolment(session, CLI, user, token_a, code_a, late)
        assert totp.confirm_enrolment(session, CLI, user, token_b, _code(second, now), now)
        # the other session's secret can no longer be confirmed
        assert not totp.confirm_enrolment(session, CLI, user, token_a, _code(first, now), now)
        assert totp.decrypt(session, user.totp_ciphertext) == second


def test_a_required_admin_without_a_factor_needs_a_ticket_to_enrol_at_sign_in(store):
    user_id, _ = _add(store)
    required = frozenset({"acme"})
    assert _refusal(store, totp_required=required) is signin.Refusal.SECOND_FACTOR_REQUIRED
    now = utcnow()
    with store.write() as session:
        user = session.get(StaffUser, user_id)
        ticket = totp.issue_ticket(session, CLI, user, now)
        version = user.session_version
        secret, token = totp.start(session, now)
    assert _refusal(store, totp_required=required, now=now) is signin.Refusal.SECOND_FACTOR_MISSING
    code = _code(secret, now)
    wrong = signin.complete_enrolment(store, user_id, version, "AAAA-BBBB", token, code, "h", now)
    assert wrong.refusal is signin.Refusal.CODE_INVALID
    later = now + totp.TICKET_TIME + timedelta(seconds=1)
    expired = signin.complete_enrolment(store, user_id, version, ticket, token, code, "h", later)
    assert expired.refusal is signin.Refusal.INVALID
    assert _refusal(store, totp_required=required, now=later) is (
        signin.Refusal.SECOND_FACTOR_REQUIRED
    )
    done = signin.complete_enrolment(store, user_id, version, ticket, token, code, "h", now)
    assert done.user is not None
    with store.read() as session:
        user = session.get(StaffUser, user_id)
        assert user.totp_ciphertext is not None and user.totp_ticket is None  # spent


def test_wrong_codes_lock_code_entry_from_every_network(store, caplog):
    _, secret = _add(store, with_totp=True)
    now = utcnow()
    refusals = [
        _refusal(store, address=f"2001:db8:{n:x}::1", code="000000", now=now) for n in range(50)
    ]
    locked_at = refusals.index(signin.Refusal.CODE_LOCKED)
    assert locked_at == signin.MAX_CODE_FAILURES - 1
    assert set(refusals[:locked_at]) == {signin.Refusal.CODE_INVALID}
    assert set(refusals[locked_at:]) == {signin.Refusal.CODE_LOCKED}
    assert "TOTP code entry locked" in caplog.text
    # the right code, from the user's own network: still locked
    right = _code(secret, now)
    assert _refusal(store, address="192.0.2.7", code=right, now=now) is signin.Refusal.CODE_LOCKED
    with store.read() as session:
        actions = session.execute(text("SELECT action FROM audit_log")).scalars().all()
        assert actions.count("totp_locked") == 1
    with store.write() as session:  # a new password unlocks it
        staff.reset_password(session, CLI, "acme", "ana@acme.mx", PASSWORD)
    assert _refusal(store, address="192.0.2.7", code=right, now=now) == "ok"


def test_a_right_code_starts_the_count_of_wrong_codes_again(store):
    _, secret = _add(store, with_totp=True)
    now = utcnow()
    for n in range(signin.MAX_CODE_FAILURES - 1):
        assert _refusal(store, address=f"198.51.100.{n}", code="000000", now=now) is (
            signin.Refusal.CODE_INVALID
        )
    assert _refusal(store, address="192.0.2.7", code=_code(secret, now), now=now) == "ok"
    assert _refusal(store, address="192.0.2.8", code="000000", now=now) is (
        signin.Refusal.CODE_INVALID
    )


def test_an_admin_reset_switches_the_factor_off_and_ends_the_sessions(store):
    user_id, _secret = _add(store, with_totp=True)
    with store.write() as session:
        user = session.get(StaffUser, user_id)
        version = user.session_version
        ticket = totp.reset(session, CLI, user)
    with store.read() as session:
        assert staff.user_for_session(session, user_id, version) is None
        user = session.get(StaffUser, user_id)
        assert user.totp_ciphertext is None and user.totp_last_step is None
        assert totp.ticket_matches(user, ticket) and ticket not in user.totp_ticket
        last = session.execute(text("SELECT action FROM audit_log ORDER BY id DESC")).all()
        assert [row[0] for row in last[:2]] == ["totp_ticket_issued", "totp_reset"]
    assert _refusal(store) == "ok"  # no code asked any more


def test_the_migration_encrypts_existing_secrets_and_the_downgrade_restores_them(tmp_path: Path):
    store = Store(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(store, "0009")
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO staff_users (merchant_id, email, name, role, password_hash, "
                "totp_secret, active, session_version, created_at, updated_at) VALUES ('acme', "
                "'ana@acme.mx', 'Ana', 'admin', 'x', 'JBSWY3DPEHPK3PXP', true, 0, "
                "'2026-12-01 00:00:00', '2026-12-01 00:00:00')"
            )
        )
    upgrade(store)
    with store.read() as session:
        token = session.execute(text("SELECT totp_ciphertext FROM staff_users")).scalar_one()
        assert "JBSWY3DPEHPK3PXP" not in token
        assert totp.decrypt(session, token) == "JBSWY3DPEHPK3PXP"
    downgrade(store, "0009")
    with store.engine.connect() as conn:
        plain = conn.execute(text("SELECT totp_secret FROM staff_users")).scalar_one()
    assert plain == "JBSWY3DPEHPK3PXP"
    store.dispose()


# -- 4. rehash ------------------------------------------------------------------------------------


def test_a_hash_made_with_old_parameters_is_replaced_at_sign_in(store, monkeypatch):
    user_id, _ = _add(store)  # hashed with time_cost=1, memory_cost=8
    with store.read() as session:
        old = session.get(StaffUser, user_id).password_hash
    assert "t=1" in old
    monkeypatch.setattr(
        staff, "_hasher", PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    )
    assert _refusal(store, password="mal") is signin.Refusal.INVALID
    with store.read() as session:
        assert session.get(StaffUser, user_id).password_hash == old  # a wrong password: kept
    assert _refusal(store) == "ok"
    with store.read() as session:
        new = session.get(StaffUser, user_id).password_hash
    assert new != old and "t=2" in new and "m=16" in new
    assert staff._hasher.verify(new, PASSWORD)
    assert _refusal(store) == "ok"  # and it still signs in


# -- 5. IPv6 per /64 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:10.1.2.3", "10.1.2.3"),
        ("10.1.2.3", "10.1.2.3"),
        ("unknown", "unknown"),
    ],
)
def test_an_ipv6_address_counts_as_its_64(address, network):
    assert throttle.client_prefix(address) == network


def test_addresses_of_one_ipv6_64_are_throttled_together(store):
    _add(store)
    for n in range(signin.MAX_ADDRESS_FAILURES):
        address = f"2001:db8:0:7::{n + 1:x}"  # a new address of the same /64 each time
        _refusal(store, email=f"otro{n}@acme.mx", password="mal", address=address)
    assert _refusal(store, address="2001:db8:0:7::ffff") is signin.Refusal.THROTTLED
    assert _refusal(store, address="2001:db8:0:8::1") == "ok"  # the next /64 is another network


# -- 6. lockout abuse -------------------------------------------------------------------------------


def test_a_stranger_locks_only_their_own_network_out(store):
    _add(store)
    for _ in range(signin.MAX_ACCOUNT_FAILURES - 1):
        assert _refusal(store, password="mal", address="203.0.113.9") is signin.Refusal.INVALID
    assert _refusal(store, password="mal", address="203.0.113.9") is signin.Refusal.LOCKED
    assert _refusal(store, address="203.0.113.9") is signin.Refusal.LOCKED  # guessing stopped
    assert _refusal(store, address="10.0.0.1") == "ok"  # the real user, from their office


def test_many_networks_reach_the_ceiling_but_not_the_users_own_network(store, monkeypatch):
    ceiling = throttle.FailedAuthSettings(
        limit=12, window=timedelta(hours=1), block=timedelta(hours=1)
    )
    monkeypatch.setattr(signin, "CEILING_POLICY", ceiling)
    _add(store)
    assert _refusal(store, address="10.0.0.1") == "ok"  # the office: the last sign-in's network
    answers = [
        _refusal(store, password="mal", address=f"198.51.100.{n // 4}") for n in range(12)
    ]  # three networks, four tries each: no single network is locked
    assert answers[:11] == [signin.Refusal.INVALID] * 11
    assert answers[11] is signin.Refusal.LOCKED_EVERYWHERE
    # any other network waits, even with the right password
    assert _refusal(store, address="192.0.2.50") is signin.Refusal.LOCKED_EVERYWHERE
    # an unknown e-mail is answered the same way
    for n in range(12):
        _refusal(store, email="nadie@acme.mx", password="mal", address=f"198.51.100.{10 + n // 4}")
    assert _refusal(store, email="nadie@acme.mx", address="192.0.2.50") is (
        signin.Refusal.LOCKED_EVERYWHERE
    )
    # the user's own network still signs in (its own per-network limit still applies)
    assert _refusal(store, address="10.0.0.1") == "ok"
    # a new password lifts every lock of the e-mail
    with store.write() as session:
        staff.reset_password(session, CLI, "acme", "ana@acme.mx", PASSWORD + "2")
    assert _refusal(store, password=PASSWORD + "2", address="192.0.2.50") == "ok"


def test_a_new_password_between_the_check_and_the_sign_in_is_not_signed_in(store, monkeypatch):
    _add(store)
    real = signin._password_ok

    def reset_meanwhile(user, password):
        ok = real(user, password)
        with store.write() as session:
            staff.reset_password(session, CLI, "acme", "ana@acme.mx", PASSWORD + "2")
        return ok

    monkeypatch.setattr(signin, "_password_ok", reset_meanwhile)
    assert _refusal(store) is signin.Refusal.INVALID


def test_the_worker_keeps_the_ceilings_count_over_its_whole_window(store):
    start = utcnow()
    ceiling = staff.account_key("ana@acme.mx")
    throttle.record_failure(store, ceiling, signin.CEILING_POLICY, start)
    throttle.record_failure(store, "203.0.113.7", throttle.FailedAuthSettings(), start)
    api = throttle.FailedAuthSettings()  # [failed_auth]: a 10-minute window
    later = start + timedelta(minutes=16)
    assert throttle.purge(store, api, later, longer=signin.PURGE_WINDOWS) == 1  # the API's
    assert throttle.blocked_for(store, ceiling, later) is None
    with store.read() as session:
        assert session.execute(text("SELECT failures FROM auth_failures")).scalar_one() == 1
    hour = start + signin.CEILING_WINDOW + timedelta(seconds=1)
    assert throttle.purge(store, api, hour, longer=signin.PURGE_WINDOWS) == 1


# -- the TOTP key outside the database (setting totp_keys) -----------------------------------------


@pytest.fixture
def keys():
    """Configure totp_keys for one test, and the database's key alone again after it."""
    from cryptography.fernet import Fernet
    from pydantic import SecretStr

    made = [Fernet.generate_key().decode() for _ in range(2)]

    def configure(*chosen: str) -> None:
        totp.use_keys([SecretStr(k) for k in chosen])

    yield made, configure
    totp.use_keys([])


def test_a_key_from_the_settings_encrypts_and_the_database_alone_cannot_decrypt(store, keys):
    (first, second), configure = keys
    _, old_secret = _add(store, with_totp=True)  # encrypted with the database's key
    configure(first)
    user_id, _ = _add(store, email="caja@acme.mx", role="cobranza")
    with store.write() as session:
        user = session.get(StaffUser, user_id)
        new_secret = totp.issue(session, CLI, user)
        token = user.totp_ciphertext
        old = staff.find_user(session, "ana@acme.mx").totp_ciphertext
        assert totp.decrypt(session, token) == new_secret
        assert totp.decrypt(session, old) == old_secret  # the database's key still decrypts
    configure()  # the database (its totp_key row) alone: the new secret does not open
    with store.read() as session, pytest.raises(RuntimeError, match="totp_key"):
        totp.decrypt(session, token)
    # rotation: a new key first, the old one after it, then every secret again with the new one
    configure(second, first)
    with store.write() as session:
        assert totp.rotate(session) == 2
    configure(second)
    with store.write() as session:
        session.execute(text("DELETE FROM app_secrets WHERE name = 'totp_key'"))
    with store.read() as session:
        with pytest.raises(RuntimeError):
            totp.decrypt(session, token)  # the token before rotation needed the old key
        rotated = {u.email: u.totp_ciphertext for u in staff.list_users(session)}
        assert totp.decrypt(session, rotated["caja@acme.mx"]) == new_secret
        assert totp.decrypt(session, rotated["ana@acme.mx"]) == old_secret
    assert _refusal(store, code=_code(old_secret, utcnow())) == "ok"


def test_a_totp_key_that_is_not_a_fernet_key_is_a_configuration_error(keys):
    from pydantic import SecretStr

    from b2bgateway.errors import ConfigurationError
    from b2bgateway.settings import Settings

    settings = Settings(totp_keys=[SecretStr("too-short")])
    with pytest.raises(ConfigurationError) as caught:
        totp.use_keys(settings.totp_keys)
    assert caught.value.problems == [
        ("totp_keys.0", "not a Fernet key (32 bytes, URL-safe base64)")
    ]
    assert "too-short" not in str(caught.value)
