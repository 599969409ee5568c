"""The allowed-transitions table is the one place that decides moves: properties that no walk
through it regresses, whatever order the processor's answers arrive in."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from b2bgateway.interface import PaymentStatus
from b2bgateway.lifecycle import ALLOWED, CLOSED, OPEN, can_move

S = PaymentStatus
PAID = {S.SUCCEEDED, S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED}


def walk(start: PaymentStatus, wishes: list[PaymentStatus]) -> list[PaymentStatus]:
    """Apply each wished status the table allows, as the lifecycle does; refuse the rest."""
    path = [start]
    for wish in wishes:
        if can_move(path[-1], wish):
            path.append(wish)
    return path


statuses = st.sampled_from(list(PaymentStatus))


@given(start=st.sampled_from(sorted(OPEN)), wishes=st.lists(statuses, max_size=30))
def test_once_a_payment_leaves_open_it_never_comes_back(start, wishes):
    path = walk(start, wishes)
    left = next((i for i, status in enumerate(path) if status not in OPEN), None)
    if left is not None:
        assert not any(status in OPEN for status in path[left:])


@given(start=st.sampled_from(sorted(OPEN)), wishes=st.lists(statuses, max_size=30))
def test_money_taken_is_never_undone_by_a_late_failure(start, wishes):
    """Once paid, no answer makes the payment failed or canceled again (a late success is the
    only move out of failed or canceled, and only towards succeeded)."""
    path = walk(start, wishes)
    paid = next((i for i, status in enumerate(path) if status in PAID), None)
    if paid is not None:
        assert not any(status in CLOSED for status in path[paid:])


def test_the_only_moves_out_of_a_closed_payment_are_late_successes():
    for closed in CLOSED:
        assert ALLOWED[closed] == frozenset({S.SUCCEEDED})


def test_every_status_has_a_row():
    assert set(ALLOWED) == set(PaymentStatus)
