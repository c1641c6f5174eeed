"""server.auth.grants on its own: a grant's life — its till session, action and subject, its expiry, one use, given
back after a refusal, and a retry of the request that spent it (the same idempotency key) let through."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.auth.grants import GRANT_SECONDS, Authoriser, GrantRefused, Grants
from server.roles import Role

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
PH = Authoriser(7, "u_pharmacist", "药师", frozenset({Role.PHARMACIST}))


def test_a_grant_is_for_its_session_action_and_subject_until_it_expires() -> None:
    grants = Grants()
    token, expires = grants.issue(1, 3, PH, "sale.void", "SALE-A", NOW)
    assert expires == NOW + timedelta(seconds=GRANT_SECONDS)
    for session, action, subject in ((2, "sale.void", "sale-a"), (1, "sale.return", "sale-a"), (1, "sale.void", "b")):
        with pytest.raises(GrantRefused):
            grants.claim(token, session, action, subject, "", NOW)
    with pytest.raises(GrantRefused, match="expired"):
        grants.claim(token, 1, "sale.void", "sale-a", "", expires)
    grant, replay = grants.claim(token, 1, "sale.void", "sale-a", "", expires - timedelta(seconds=1))
    assert grant.authoriser == PH and not replay


def test_one_use_given_back_after_a_refusal_and_a_retry_of_the_spending_request_let_through() -> None:
    grants = Grants()
    token, _ = grants.issue(1, 3, PH, "sale.return", "s", NOW)
    grant, _ = grants.claim(token, 1, "sale.return", "s", "r1", NOW)
    with pytest.raises(GrantRefused, match="in use"):  # a second request while the first runs
        grants.claim(token, 1, "sale.return", "s", "r2", NOW)
    grants.give_back(grant)  # the first was refused, nothing written
    grant, _ = grants.claim(token, 1, "sale.return", "s", "r1", NOW)
    grants.spend(grant, "r1")
    assert grants.claim(token, 1, "sale.return", "s", "r1", NOW) == (grant, True)  # the lost answer asked again
    with pytest.raises(GrantRefused, match="used already"):
        grants.claim(token, 1, "sale.return", "s", "r2", NOW)
    with pytest.raises(GrantRefused, match="used already"):
        grants.claim(token, 1, "sale.return", "s", "", NOW)
