"""The index lease in the store: one holder at a time, an expired lease can be taken over."""

from __future__ import annotations

import pytest

from bot.service import ReviewService
from index.errors import IndexLockedError
from index.lease import StoreLease
from tests.conftest import SEEDS


def test_lease_refuses_a_live_holder_and_yields_an_expired_one(service: ReviewService) -> None:
    service.index([SEEDS])
    now = [1_000_000.0]

    def lease() -> StoreLease:
        return StoreLease(lambda: service.store.client, collection="reviews", clock=lambda: now[0])

    first, second = lease(), lease()
    with first.hold():
        assert second.active()
        with pytest.raises(IndexLockedError, match="another `reviewbot index`"), second.hold():
            pass
        now[0] += 3600  # the first holder stopped renewing an hour ago
        with second.hold():
            holder = second.holder()
            assert holder is not None and not holder.expired(now[0])
    assert first.holder() is None, "the lease is gone once its last holder is done"
