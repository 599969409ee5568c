"""The outbound-event worker's guarantees, message by message (the outbox table directly):
order per payment, no starvation behind a retrying head, at least once and never twice without
a crash, leases, dead letters; and the keep-alive HTTP client (reuse, a closed kept connection,
redirects, TLS verification, timeouts)."""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections import defaultdict
from datetime import timedelta
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select, text, update

from b2bgateway import notifications, outbox
from b2bgateway.store.models import OutboxMessage, utcnow

URL = "https://erp.example/hook"
LATE = timedelta(seconds=5)  # a loaded machine's slack
ENDPOINTS = {"acme": (URL, SecretStr("whsec_test"))}


def add_events(store, keys_and_counts, *, at=None):
    """``count`` events for each payment key, interleaved in time as checkouts would be."""
    at = at or utcnow() - timedelta(minutes=1)
    rows = []
    for n in range(max(count for _, count in keys_and_counts)):
        for key, count in keys_and_counts:
            if n < count:
                event = {"id": f"evt_{key}_{n}", "seq": n, "key": key}
                rows.append(
                    OutboxMessage(
                        merchant_id="acme",
                        event_type="payment.updated",
                        ordering_key=key,
                        payload=event,
                        state="pending",
                        attempts=0,
                        next_attempt_at=at,
                        created_at=at,
                    )
                )
                at += timedelta(microseconds=1)
    with store.write() as session:
        session.add_all(rows)


class Receiver:
    """Counts each event id, checks order per payment; fails the payments in ``down``."""

    def __init__(self, down=()):
        self.down = set(down)
        self.seen: dict[str, int] = defaultdict(int)
        self.order: dict[str, list[int]] = defaultdict(list)
        self.in_flight: set[str] = set()
        self.overlaps = 0
        self.lock = threading.Lock()

    def __call__(self, url, body, headers):
        event = json.loads(body)
        with self.lock:
            if event["key"] in self.in_flight:
                self.overlaps += 1  # two events of one payment in flight at once
            self.in_flight.add(event["key"])
        try:
            if event["key"] in self.down:
                return 503
            with self.lock:
                self.seen[event["id"]] += 1
                self.order[event["key"]].append(event["seq"])
            return 200
        finally:
            with self.lock:
                self.in_flight.discard(event["key"])


def states(store):
    with store.read() as session:
        rows = session.execute(select(OutboxMessage.payload, OutboxMessage.state)).all()
    return {payload["id"]: state for payload, state in rows}


def test_a_retrying_head_neither_lets_its_followers_overtake_nor_starves_other_payments(store):
    # 100 followers queued behind a head that fails, more than one claim reads (limit x 4)...
    add_events(store, [("pay_stuck", 101)])
    add_events(store, [(f"pay_{n}", 3) for n in range(30)])  # ...and other payments after them
    receiver = Receiver(down={"pay_stuck"})
    done = notifications.deliver_due(store, ENDPOINTS, send=receiver, limit=200)
    assert done.retried == 1 and done.delivered == 90  # everyone else, in this one pass
    assert all(receiver.order[f"pay_{n}"] == [0, 1, 2] for n in range(30))
    assert "pay_stuck" not in receiver.order  # no follower overtook its failing head
    with store.read() as session:  # followers wait at (or after) their head's retry time
        head_at, *followers_at = session.scalars(
            select(OutboxMessage.next_attempt_at)
            .where(OutboxMessage.ordering_key == "pay_stuck")
            .order_by(OutboxMessage.id)
        ).all()
    assert min(followers_at) >= head_at > utcnow()
    # More events for others keep being delivered while the head is still failing
    add_events(store, [("pay_late", 2)])
    done = notifications.deliver_due(store, ENDPOINTS, send=receiver)
    assert receiver.order["pay_late"] == [0, 1] and done.retried == 0
    # The receiver recovers: once the head is due again it goes first, then all its followers
    # at once (made due when the head was delivered, not at their own retry time).
    receiver.down.clear()
    later = utcnow() + timedelta(minutes=1)
    done = notifications.deliver_due(store, ENDPOINTS, send=receiver, now=later, limit=200)
    assert done.delivered == 101
    assert receiver.order["pay_stuck"] == list(range(101))
    assert set(receiver.seen.values()) == {1} and receiver.overlaps == 0


def test_a_claim_returns_distinct_payments_heads_only(store):
    add_events(store, [("a", 3), ("b", 3), ("c", 1)])
    claimed = outbox.claim(store, utcnow(), 10)
    assert [(m.ordering_key, m.payload["seq"]) for m in claimed] == [("a", 0), ("b", 0), ("c", 0)]
    assert outbox.claim(store, utcnow(), 10) == []  # the heads are leased, followers wait


@pytest.mark.parametrize("workers", [2, 4])
def test_workers_side_by_side_never_deliver_an_event_twice_nor_out_of_order(store, workers):
    add_events(store, [(f"pay_{n}", 4) for n in range(60)])
    receiver = Receiver()
    errors: list[BaseException] = []

    def worker():
        try:
            # until nothing is pending: an event left waiting on a lease (5 minutes) fails this
            deadline = time.monotonic() + 60
            while "pending" in states(store).values() and time.monotonic() < deadline:
                notifications.deliver_due(store, ENDPOINTS, send=receiver, limit=20)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(receiver.seen) == 240 and set(receiver.seen.values()) == {1}
    assert all(order == [0, 1, 2, 3] for order in receiver.order.values())
    assert receiver.overlaps == 0
    assert set(states(store).values()) == {"delivered"}


def test_an_expired_lease_is_taken_over_and_the_late_worker_changes_nothing(store):
    add_events(store, [("pay", 2)])
    (first,) = outbox.claim(store, utcnow(), 10)
    assert outbox.claim(store, utcnow(), 10) == []  # leased
    after_lease = utcnow() + outbox.LEASE + timedelta(seconds=1)
    (again,) = outbox.claim(store, after_lease, 10)  # the first worker died, or is very slow
    assert again.id == first.id
    # the slow first worker's failure comes back: not recorded, the new lease stands
    assert outbox.record(store, [outbox.Outcome(first, 503, "HTTP 503")], utcnow()) == (0, 1, 0)
    with store.read() as session:
        message = session.get(OutboxMessage, first.id)
        assert message.attempts == 0 and message.next_attempt_at == again.lease
    # the new owner delivers it; its follower becomes due at once
    assert outbox.record(store, [outbox.Outcome(again, 200, "")], after_lease) == (1, 0, 0)
    (follower,) = outbox.claim(store, after_lease, 10)
    assert follower.payload["seq"] == 1
    # the first worker delivered it too after all (at least once): nothing changes any more
    assert outbox.record(store, [outbox.Outcome(first, 200, "")], after_lease) == (0, 0, 0)
    assert outbox.claim(store, after_lease, 10) == []  # the follower's lease is untouched


def test_backoff_then_a_dead_letter_lets_the_payment_move_on(store):
    add_events(store, [("pay", 2)])
    receiver = Receiver(down={"pay"})
    now = utcnow()
    for attempt in range(1, notifications.MAX_ATTEMPTS):
        began = max(now, utcnow())
        done = notifications.deliver_due(store, ENDPOINTS, send=receiver, now=now)
        assert done.retried == 1
        with store.read() as session:
            head = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).first()
            assert head.attempts == attempt and head.last_error == "HTTP 503"
            waits = head.next_attempt_at - began  # the back-off, from when the attempt ended
            assert notifications.backoff(attempt) <= waits < notifications.backoff(attempt) + LATE
        assert notifications.deliver_due(store, ENDPOINTS, send=receiver, now=now).retried == 0
        now = head.next_attempt_at
    done = notifications.deliver_due(store, ENDPOINTS, send=receiver, now=now)
    # the follower was made due when its head became a dead letter: tried in the same pass
    assert (done.dead, done.retried, done.delivered) == (1, 1, 0)
    assert states(store) == {"evt_pay_0": "dead", "evt_pay_1": "pending"}
    receiver.down.clear()
    later = now + notifications.backoff(1) + LATE
    done = notifications.deliver_due(store, ENDPOINTS, send=receiver, now=later)
    assert done.delivered == 1 and receiver.order["pay"] == [1]


def test_a_dead_letter_replayed_while_a_later_event_is_in_flight_waits_for_it(store):
    """The payment's first event died; its second became the head and is being delivered when
    the first is replayed. The replayed one is not handed out beside it (two of one payment in
    flight), and the second is not handed out again when the first is delivered."""
    add_events(store, [("pay", 2)])
    (first,) = outbox.claim(store, utcnow(), 10)
    with store.write() as session:  # its retries ran out; the next one is due at once
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id == first.id).values(state="dead")
        )
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id != first.id)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
    (second,) = outbox.claim(store, utcnow(), 10)  # in flight from here on
    assert second.id != first.id
    assert notifications.replay(store, message_ids=[first.id]) == 1
    assert outbox.claim(store, utcnow(), 10) == []  # the first waits for the second's outcome
    assert outbox.record(store, [outbox.Outcome(second, 200, "")], utcnow()) == (1, 0, 0)
    (replayed,) = outbox.claim(store, utcnow(), 10)  # due once the second was delivered
    assert replayed.id == first.id
    assert outbox.record(store, [outbox.Outcome(replayed, 200, "")], utcnow()) == (1, 0, 0)
    assert outbox.claim(store, utcnow(), 10) == []


# -- the keep-alive client -------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        server: Any = self.server
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server.requests.append((self.client_address[1], self.path, json.loads(body)))
        status = server.status
        self.send_response(status)
        if status in (301, 302, 307, 308):
            self.send_header("Location", "/elsewhere")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
        if server.drop_after_answer:  # closes without saying so (as an idle timeout would)
            self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def http_receiver():
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.requests, server.status, server.drop_after_answer = [], 200, False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def client():
    keepalive = notifications._KeepAlive()
    yield keepalive
    keepalive.close()


def post(client, server, n):
    url = f"http://127.0.0.1:{server.server_address[1]}/hook?m=acme"
    return client.post(url, json.dumps({"n": n}).encode(), {"Content-Type": "application/json"})


def test_a_kept_alive_connection_is_reused(http_receiver, client):
    assert [post(client, http_receiver, n) for n in range(5)] == [200] * 5
    ports = {port for port, _, _ in http_receiver.requests}
    assert len(ports) == 1  # one TCP connection for all five
    assert http_receiver.requests[0][1] == "/hook?m=acme"


def test_a_kept_connection_the_receiver_closed_is_retried_once_on_a_new_one(http_receiver, client):
    http_receiver.drop_after_answer = True
    assert [post(client, http_receiver, n) for n in range(3)] == [200] * 3
    sent = [body["n"] for _, _, body in http_receiver.requests]
    assert sent == [0, 1, 2]  # each exactly once: the closed connection carried nothing
    assert len({port for port, _, _ in http_receiver.requests}) == 3


class IdleClosing(Handler):
    timeout = 0.2  # closes a connection idle this long (gunicorn's keep-alive is 2 s)


def test_after_an_idle_gap_every_kept_connection_closed_is_replaced_at_once(client):
    """All of a host's kept connections closed by the receiver while the worker slept: the
    first POST finds one dead and goes out on a new connection, never on another kept one (each
    would fail the same way and count as an attempt)."""
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), IdleClosing)
    server.requests, server.status, server.drop_after_answer = [], 200, False
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        key = ("http", "127.0.0.1", server.server_address[1])
        for n in range(4):  # four kept connections, as a burst of deliveries leaves them
            connection = HTTPConnection("127.0.0.1", key[2], timeout=5)
            connection.request("POST", "/hook", body=json.dumps({"n": -n}).encode())
            connection.getresponse().read()
            client._keep(key, connection)
        assert len(client._idle[key]) == 4
        time.sleep(0.6)  # the receiver's idle timeout passes for all of them
        assert [post(client, server, n) for n in range(3)] == [200] * 3
        assert [body["n"] for _, _, body in server.requests[4:]] == [0, 1, 2]
    finally:
        server.shutdown()
        server.server_close()


def test_a_refused_connection_is_unreachable_and_not_retried_forever(client):
    with socket_bound() as port:  # nothing listens there
        assert client.post(f"http://127.0.0.1:{port}/", b"{}", {}) == 0
    assert client.post("ftp://erp.example/hook", b"{}", {}) == 0
    assert client.post("http://[::1/hook", b"{}", {}) == 0


class socket_bound:
    def __enter__(self):
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc):
        self.sock.close()


def test_a_redirect_is_not_a_delivery(http_receiver, client, store):
    http_receiver.status = 302
    assert post(client, http_receiver, 0) == 302
    assert [path for _, path, _ in http_receiver.requests] == ["/hook?m=acme"]  # not followed
    add_events(store, [("pay", 1)])
    url = f"http://127.0.0.1:{http_receiver.server_address[1]}/hook"
    done = notifications.deliver_due(store, {"acme": (url, SecretStr("s"))}, send=client.post)
    assert (done.delivered, done.retried) == (0, 1)
    with store.read() as session:
        assert session.scalar(select(OutboxMessage.last_error)) == "HTTP 302"


def test_tls_is_verified_and_every_socket_operation_is_bounded(client):
    connection, reused = client._take(("https", "erp.example", 443))
    assert not reused and connection.timeout == notifications.TIMEOUT_SECONDS
    context = connection._context  # type: ignore[attr-defined]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    plain, _ = client._take(("http", "erp.example", 80))
    assert plain.timeout == notifications.TIMEOUT_SECONDS
    connection.close()
    plain.close()


def test_a_proxy_from_the_environment_is_still_honoured(monkeypatch):
    seen = []
    monkeypatch.setattr(
        notifications, "http_post", lambda url, body, headers: seen.append(url) or 204
    )
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert notifications._KeepAlive().post(URL, b"{}", {}) == 204
    assert seen == [URL]


def test_a_payments_head_is_found_from_the_pending_rows_alone_without_statistics(store):
    """The claim's head lookup (the oldest pending event of a due row's payment) goes through
    the index of pending rows even when the table has no statistics (autovacuum off or behind):
    without that index PostgreSQL intersected the key's index with the index of every pending
    row, 64 ms a lookup with 85,000 pending."""
    if store.dialect != "postgresql":
        pytest.skip("PostgreSQL's planner (SQLite has no statistics to lack)")
    with store.write() as session:  # 20,000 pending events of 10,000 payments, never analyzed
        session.execute(
            text(
                "INSERT INTO outbox (merchant_id, event_type, ordering_key, payload, state,"
                " attempts, next_attempt_at, created_at) SELECT 'acme', 'payment.updated',"
                " 'pay_' || (n % 10000), '{}', 'pending', 0, now() - interval '1 minute',"
                " now() FROM generate_series(1, 20000) AS n"
            )
        )
    scan = outbox._scan(10, utcnow()).with_for_update(skip_locked=True, of=OutboxMessage)
    sql = str(scan.compile(store.engine, compile_kwargs={"literal_binds": True}))
    with store.engine.connect() as conn:
        plan = "\n".join(row[0] for row in conn.execute(text(f"EXPLAIN {sql}")))
    assert "ix_outbox_pending_ordering_key" in plan, plan
    assert "BitmapAnd" not in plan, plan
