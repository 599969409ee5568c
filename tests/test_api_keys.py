"""API keys (issue 16 item 8): new keys with enough entropy (``b2bgateway keys generate``),
short configured keys named at start-up until rotated, several keys per merchant for rotation,
and repeated wrong keys from one address refused for a while (429 + ``Retry-After``), with the
count in the database so every worker and instance sees it."""

from __future__ import annotations

import dataclasses
import string
from datetime import timedelta

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from b2bgateway import keys, throttle
from b2bgateway.settings import Settings
from b2bgateway.store.models import AuthFailure, utcnow
from b2bgateway.throttle import FailedAuthSettings
from b2bgateway_web.cli import main
from tests.support.web import API_KEY

LIMIT = 3
ATTACKER = "203.0.113.7"
PORTAL = "198.51.100.20"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """conftest's merchants; acme with a second key (rotation), a small failure limit."""
    acme = settings.merchants["acme"]
    rotated = acme.model_copy(update={"api_keys": [*acme.api_keys, SecretStr(keys.generate())]})
    return settings.model_copy(
        update={
            "merchants": {**settings.merchants, "acme": rotated},
            "failed_auth": FailedAuthSettings(limit=LIMIT),
        }
    )


def get(client, key: str | None, address: str, **headers: str):
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return client.get("/v1/processors", headers=headers, environ_base={"REMOTE_ADDR": address})


def guess(client, address: str = ATTACKER, times: int = LIMIT) -> list[int]:
    return [get(client, f"sk_live_guess{i:020d}", address).status_code for i in range(times)]


# -- generating keys -------------------------------------------------------------------------------


def test_a_generated_key_is_long_random_and_new_each_time():
    made = {keys.generate() for _ in range(200)}
    assert len(made) == 200
    for key in made:
        assert key.startswith("sk_live_")
        random_part = key.removeprefix("sk_live_")
        assert len(random_part) == keys.RANDOM_LENGTH >= keys.MIN_LENGTH
        assert set(random_part) <= set(string.ascii_letters + string.digits)
    assert keys.generate("sk_test_").startswith("sk_test_")
    with pytest.raises(ValueError, match="letters, digits"):
        keys.generate('sk"; rm')


def test_keys_generate_prints_one_key_usable_in_the_configuration(database_url):
    runner = CliRunner()
    result = runner.invoke(main, ["keys", "generate"])
    assert result.exit_code == 0, result.output
    key = result.output.strip()
    assert key.startswith("sk_live_") and len(key) == len("sk_live_") + keys.RANDOM_LENGTH
    settings = Settings(database_url=database_url, merchants={"m": {"api_keys": [key]}})
    assert keys.weak_keys(settings) == []
    assert runner.invoke(main, ["keys", "generate", "--prefix", "pk_"]).output.startswith("pk_")
    refused = runner.invoke(main, ["keys", "generate", "--prefix", "sk live"])
    assert refused.exit_code == 2 and "--prefix" in refused.output


def test_short_keys_are_named_not_shown_and_still_work(database_url, tmp_path, monkeypatch, store):
    """Keys from before (8 to 23 characters) keep working, so an upgrade locks no portal out,
    but start-up names each one (never its value) until it is rotated."""
    path = tmp_path / "gateway.toml"
    strong = keys.generate()
    path.write_text(f"""
database_url = "{database_url}"
[merchants.acme]
api_keys = ["{strong}", "sk_short_1234"]
[merchants.globex]
api_keys = ["{keys.generate()}"]
""")
    monkeypatch.setenv("B2BGATEWAY_CONFIG", str(path))
    result = CliRunner().invoke(main, ["config", "check"])
    assert result.exit_code == 0, result.output
    assert "merchants.acme.api_keys[1] has fewer than 24 characters" in result.output
    assert "b2bgateway keys generate" in result.output
    assert "sk_short_1234" not in result.output and strong not in result.output
    assert "globex" not in result.output.split("warning", 1)[1]


def test_the_demo_key_is_not_reported_as_a_weak_key():
    assert keys.weak_keys(Settings(merchants={"demo": {"api_keys": ["sk_demo_123"]}})) == []


def test_every_key_of_a_merchant_works_during_a_rotation(client, settings):
    old, new = (k.get_secret_value() for k in settings.merchants["acme"].api_keys)
    assert old == API_KEY
    for key in (old, new):
        response = get(client, key, PORTAL)
        assert response.status_code == 200, response.get_data(as_text=True)


# -- repeated wrong keys ---------------------------------------------------------------------------


def test_repeated_wrong_keys_from_one_address_are_refused_for_a_while(client):
    assert guess(client) == [401] * LIMIT
    for key in ("sk_live_one_more_guess_0000000", API_KEY, None):  # the right key too
        response = get(client, key, ATTACKER)
        assert response.status_code == 429, response.get_data(as_text=True)
        assert response.mimetype == "application/problem+json"
        assert response.json["code"] == "too_many_failed_authentications"
        wait = int(response.headers["Retry-After"])
        assert 0 < wait <= 15 * 60
    # Another address (the merchant's portal) is not affected.
    assert get(client, API_KEY, PORTAL).status_code == 200


def test_one_ipv6_address_is_refused_at_the_limit_and_its_64_at_a_higher_one(client):
    """A neighbour on a shared /64 sending wrong keys is refused, not the merchant's ERP on
    another address of that /64; rotating through a /64's 2**64 addresses still ends, at
    NETWORK_FACTOR times the limit."""
    from b2bgateway_web.api.auth import NETWORK_FACTOR

    neighbour = "2001:db8:5:5::bad"
    statuses = [get(client, f"sk_live_guess{n:020d}", neighbour).status_code for n in range(LIMIT)]
    assert statuses == [401] * LIMIT
    assert get(client, API_KEY, neighbour).status_code == 429  # that address itself: refused
    assert get(client, API_KEY, "2001:db8:5:5::e79").status_code == 200  # the ERP next door
    # the same neighbour rotating addresses: the /64 is refused at NETWORK_FACTOR * LIMIT
    rotated = [
        get(client, f"sk_live_guess{n:020d}", f"2001:db8:5:5::{n + 1:x}").status_code
        for n in range(LIMIT * (NETWORK_FACTOR - 1))
    ]
    assert rotated == [401] * len(rotated)
    assert get(client, API_KEY, "2001:db8:5:5:ffff::1").status_code == 429
    assert get(client, API_KEY, "2001:db8:5:6::1").status_code == 200  # the next /64


def test_the_count_lives_in_the_database_not_in_one_process(gateway, client):
    """A second app on the same database (another worker, another instance) sees the block."""
    from b2bgateway_web import create_app

    guess(client)
    other = create_app(gateway=gateway).test_client()
    assert get(other, API_KEY, ATTACKER).status_code == 429
    with gateway.store.read() as session:
        row = session.get(AuthFailure, ATTACKER)
        assert row is not None and row.failures == LIMIT


def test_below_the_limit_nothing_is_refused_and_a_missing_key_is_not_a_guess(client):
    assert guess(client, times=LIMIT - 1) == [401] * (LIMIT - 1)
    assert [get(client, None, ATTACKER).status_code for _ in range(5)] == [401] * 5
    assert get(client, API_KEY, ATTACKER).status_code == 200
    # A right key does not reset the count: a merchant cannot buy a guesser more tries.
    assert guess(client, times=1) == [401]
    assert get(client, API_KEY, ATTACKER).status_code == 429


def checkout(client, address: str, body: object, key: str | None):
    headers = {"Authorization": f"Bearer {API_KEY}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(
        "/v1/checkouts", json=body, headers=headers, environ_base={"REMOTE_ADDR": address}
    )


def test_a_checkout_with_the_right_key_from_a_refused_address_learns_nothing(client, data, store):
    """A checkout reads its address's refusal with its customer, in the payment's own transaction
    (one round trip fewer than before the view), so every other answer it could give (a payment,
    a replay, 400, 404, 422) must still be a 429 for a refused address, with nothing written."""
    from sqlalchemy import func, select

    from b2bgateway.store.models import IdempotencyRecord, Payment

    def invoices(*ids: str, **extra: object) -> dict[str, object]:
        return {"customer_id": "C-1", "purpose": "invoices", "invoice_ids": list(ids), **extra}

    assert checkout(client, ATTACKER, invoices("F-1"), "paid-before").status_code == 201
    guess(client)
    asked = [
        (invoices("F-2"), "new"),  # a payment
        (invoices("F-1"), "paid-before"),  # a replay of the answer before the block
        (invoices("F-2", expected_amount=5), "bad"),  # 422 validation_error
        ({**invoices("F-2"), "customer_id": "C-404"}, "nobody"),  # 404
        (invoices("F-2"), None),  # 400: no Idempotency-Key
        (invoices("F-1"), "taken"),  # 422 not payable (F-1 is paid)
    ]
    for body, key in asked:
        refused = checkout(client, ATTACKER, body, key)
        assert refused.status_code == 429, (key, refused.get_data(as_text=True))
        assert refused.json["code"] == "too_many_failed_authentications"
        assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(Payment)) == 1
        assert session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 1
    # The same requests from the portal's address: their own answers.
    answers = [checkout(client, PORTAL, body, key) for body, key in asked]
    assert [a.status_code for a in answers] == [201, 201, 422, 404, 400, 422]
    assert answers[1].headers.get("Idempotent-Replayed") == "true"


def test_the_window_and_the_block_end(store):
    policy = FailedAuthSettings(limit=2, window=timedelta(minutes=10), block=timedelta(minutes=15))
    start = utcnow()
    assert throttle.record_failure(store, ATTACKER, policy, start) is None
    # The next failure comes after the window: a new count, no block.
    later = start + timedelta(minutes=11)
    assert throttle.record_failure(store, ATTACKER, policy, later) is None
    assert throttle.record_failure(store, ATTACKER, policy, later) == 15 * 60
    assert throttle.blocked_for(store, ATTACKER, later + timedelta(minutes=14)) == 60
    assert throttle.blocked_for(store, ATTACKER, later + timedelta(minutes=15)) is None
    # Rows whose window and block are over are purged by the worker; others are kept.
    assert throttle.record_failure(store, PORTAL, policy, later) is None
    assert throttle.purge(store, policy, later + timedelta(minutes=5)) == 0
    assert throttle.purge(store, policy, later + timedelta(minutes=16)) == 2


@pytest.mark.parametrize("hops", [0, 1])
def test_the_client_address_behind_trusted_proxies(gateway, hops):
    """With ``trusted_proxies`` the address is read from X-Forwarded-For; without it, a client
    cannot dodge the count by sending the header."""
    from b2bgateway_web import create_app

    policy = FailedAuthSettings(limit=LIMIT, trusted_proxies=hops)
    settings = gateway.settings.model_copy(update={"failed_auth": policy})
    client = create_app(gateway=dataclasses.replace(gateway, settings=settings)).test_client()
    proxy = "10.0.0.2"
    for i in range(LIMIT):
        forwarded = {"X-Forwarded-For": f"192.0.2.{i}"}
        assert get(client, "sk_live_wrong_key_0000000000", proxy, **forwarded).status_code == 401
    response = get(client, API_KEY, proxy, **{"X-Forwarded-For": "192.0.2.200"})
    assert response.status_code == (200 if hops else 429)
