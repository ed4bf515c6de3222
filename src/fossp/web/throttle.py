"""Sign-in throttling per account and per address: a growing delay, then HTTP 429.

Each failed sign-in counts against the account name and the client address. After a few
free failures every further one doubles the wait before the next attempt is even
checked (so a guesser gains nothing by hammering); an attempt during the wait answers 429
with Retry-After. A success clears the account's count; counts are forgotten after a
quiet hour. Kept in the server's memory: a restart forgives, which only helps the owner.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from fossp.errors import FosspError

FORGET_AFTER = 3600.0
MAX_DELAY = 900.0


class Throttled(FosspError):
    """Too many failed sign-ins (HTTP 429); ``retry_after`` is in whole seconds."""

    code = "throttled"

    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins; try again in {retry_after} s")
        self.retry_after = retry_after


@dataclass
class _Count:
    failures: int
    last: float
    blocked_until: float


class Throttle:
    """``free`` failures per account (``free_per_address`` per address) before the delays."""

    def __init__(self, free: int = 3, free_per_address: int = 20, clock: Callable[[], float] = time.monotonic) -> None:
        self.free = free
        self.free_per_address = free_per_address
        self.clock = clock
        self._counts: dict[str, _Count] = {}
        self._lock = threading.Lock()

    def _keys(self, name: str, address: str) -> list[tuple[str, int]]:
        return [(f"name:{name.strip().lower()}", self.free), (f"address:{address}", self.free_per_address)]

    def check(self, name: str, address: str) -> None:
        """Raise Throttled while the account or the address must still wait."""
        now = self.clock()
        with self._lock:
            waits = [c.blocked_until - now for c in self._live(self._keys(name, address), now)]
        wait = max(waits, default=0.0)
        if wait > 0:
            raise Throttled(int(wait) + (wait % 1 > 0))

    def failed(self, name: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            for key, free in self._keys(name, address):
                count = self._counts.get(key)
                if count is None or now - count.last > FORGET_AFTER:
                    count = self._counts[key] = _Count(0, now, now)
                count.failures += 1
                count.last = now
                over = count.failures - free
                count.blocked_until = now + min(2.0 ** (over - 1), MAX_DELAY) if over > 0 else now

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._counts.pop(self._keys(name, "")[0][0], None)

    def _live(self, keys: Iterable[tuple[str, int]], now: float) -> list[_Count]:
        found = [self._counts.get(key) for key, _free in keys]
        return [c for c in found if c is not None and now - c.last <= FORGET_AFTER]
