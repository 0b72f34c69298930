"""A lease in the store itself, so that one indexer at a time writes to it.

A file lock only guards one data directory; indexers on other machines, or with other
data directories, can share one Chroma server. Chroma offers no compare-and-set on
metadata, but creating a collection whose name is taken fails, atomically, on an
embedded store and on a server alike (the name is unique in Chroma's system database).
So the lease is a small empty collection next to the reviews: whoever creates it holds
it. Its metadata names the holder and when the lease expires; the holder renews it from
a background thread and deletes it when its run ends. Readers look at it to keep
answering from the last finished run while another one writes.

Limits:

- A holder that dies without releasing (SIGKILL, power loss) leaves its lease until it
  expires; until then another indexer is refused and told when to try again. On an
  embedded store the caller also holds the data directory's file lock, which the
  operating system releases with the process, so it may take over at once.
- Taking over an expired lease is delete-then-create, which is not atomic: two indexers
  that find the same expired lease at the same instant may both get it. Each reads the
  lease back after creating it, which narrows that window without closing it; a loser
  that notices at a renewal logs an error. Two runs over the same files converge,
  because indexing is idempotent.
- Expiry compares wall clocks: machines sharing a server must agree to within seconds.
- A holder paused for longer than the lease (SIGSTOP, a suspended laptop) loses it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from index.errors import IndexLockedError, StoreError

if TYPE_CHECKING:
    from chromadb.api import ClientAPI

log = logging.getLogger(__name__)

LEASE_SECONDS = 60.0
_RENEWALS_PER_LEASE = 4


@dataclass(frozen=True)
class LeaseHolder:
    """Who holds a store's lease, and until when (seconds since the epoch)."""

    owner: str
    expires_at: float

    def expired(self, now: float) -> bool:
        return now >= self.expires_at

    def until(self) -> str:
        return datetime.fromtimestamp(self.expires_at, UTC).isoformat(timespec="seconds")


class StoreLease:
    """The index lease of one collection, held through whichever client ``client_of`` gives."""

    def __init__(
        self,
        client_of: Callable[[], ClientAPI],
        *,
        collection: str,
        seconds: float = LEASE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client_of = client_of
        self.name = f"{collection}-index-lease"
        self._seconds = seconds
        self._clock = clock

    def holder(self) -> LeaseHolder | None:
        """The lease's holder, expired or not; None when nobody holds it."""
        from chromadb.errors import NotFoundError

        try:
            collection = self._client_of().get_collection(self.name, embedding_function=None)
        except (NotFoundError, ValueError):
            return None
        return _holder_from(collection.metadata)

    def active(self) -> bool:
        """Whether an indexer holds the lease now."""
        holder = self.holder()
        return holder is not None and not holder.expired(self._clock())

    @contextmanager
    def hold(self, *, take_over: bool = False) -> Iterator[None]:
        """Hold the lease for the block; raise IndexLockedError when another run holds it.

        ``take_over`` replaces a lease that has not expired (for a caller that knows
        its holder is gone, such as the holder of an embedded store's file lock).
        """
        owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._acquire(owner, take_over=take_over)
        stop = threading.Event()
        renewer = threading.Thread(
            target=self._renew_until, args=(owner, stop), name="index-lease", daemon=True
        )
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join()
            self._release(owner)

    def _acquire(self, owner: str, *, take_over: bool) -> None:
        if self._create(owner):
            return
        holder = self.holder()
        if holder is not None and not take_over and not holder.expired(self._clock()):
            raise IndexLockedError(
                f"another `reviewbot index` ({holder.owner}) is writing to this store; "
                f"try again when it has finished (its lease runs until {holder.until()})"
            )
        if holder is not None:
            log.warning("taking over the index lease of %s", holder.owner)
            self._delete()
        if not self._create(owner):
            raise IndexLockedError(
                "another `reviewbot index` took the store's lease just now; try again when "
                "it has finished"
            )

    def _create(self, owner: str) -> bool:
        """Create the lease for ``owner``; False when it exists, or another run won it."""
        from chromadb.errors import ChromaError

        try:
            self._client_of().create_collection(
                self.name, metadata=self._record(owner), embedding_function=None
            )
        except (ChromaError, ValueError) as error:
            if self.holder() is None:
                raise StoreError(f"cannot create the index lease: {error}") from error
            return False
        holder = self.holder()
        return holder is not None and holder.owner == owner

    def _record(self, owner: str) -> dict[str, Any]:
        return {"owner": owner, "expires_at": self._clock() + self._seconds}

    def _renew_until(self, owner: str, stop: threading.Event) -> None:
        while not stop.wait(self._seconds / _RENEWALS_PER_LEASE):
            try:
                holder = self.holder()
                if holder is None or holder.owner != owner:
                    log.error("the index lease was taken over by %s", holder and holder.owner)
                    return
                collection = self._client_of().get_collection(self.name, embedding_function=None)
                collection.modify(metadata=self._record(owner))
            except Exception:  # a failed renewal must not end the run; expiry is the fallback
                log.warning("could not renew the index lease", exc_info=True)

    def _release(self, owner: str) -> None:
        try:
            holder = self.holder()
            if holder is not None and holder.owner == owner:
                self._delete()
        except Exception:  # the lease expires by itself; the run's own outcome matters more
            log.warning("could not release the index lease", exc_info=True)

    def _delete(self) -> None:
        from chromadb.errors import NotFoundError

        with suppress(NotFoundError, ValueError):
            self._client_of().delete_collection(self.name)


def _holder_from(metadata: Any) -> LeaseHolder | None:
    if not metadata or "owner" not in metadata:
        return None
    return LeaseHolder(str(metadata["owner"]), float(metadata.get("expires_at", 0.0)))
