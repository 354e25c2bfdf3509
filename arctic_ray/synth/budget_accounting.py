"""The budget's accounting, in plain objects the budget actor holds (`budget.py`): the sliding
rate window with its even pacing, each run's spend ledger (reserved worst case, settled at the
real cost), and the prompt-token ratio learned from `usage`."""

from __future__ import annotations

import math
from collections import deque

SPEND_LIMIT_REACHED = "spend_limit reached"
CATCH_UP_SHARE = 0.1
"""Share of a window's requests that may leave back to back after a lull in demand."""


class SlidingWindow:
    """What was granted in the last `window_s` seconds, and how long a new grant must wait."""

    def __init__(self, requests: float | None, tokens: float | None, window_s: float):
        self.max_requests = math.floor(requests) if requests is not None else None
        self.max_tokens = tokens
        self.window_s = window_s
        self.spacing_s = window_s / requests if requests is not None else 0.0
        # Time lost while no request was waiting may be made up by a short burst.
        self.burst_s = math.floor(CATCH_UP_SHARE * requests) * self.spacing_s if requests is not None else 0.0
        self._next_due = -math.inf  # when the next request is due, paced evenly
        self._grants: deque[list] = deque()  # [time, permit id, tokens], oldest first
        self._tokens_by_permit: dict[int, list] = {}
        self._tokens = 0.0

    def reconfigure(self, other: SlidingWindow) -> None:
        """Take `other`'s limits, keeping what was granted (it still counts in the window)."""
        self.max_requests, self.max_tokens, self.window_s = other.max_requests, other.max_tokens, other.window_s
        self.spacing_s, self.burst_s = other.spacing_s, other.burst_s

    def delay(self, now: float, tokens: float) -> float:
        """Seconds until a grant of `tokens` fits (0: it fits now)."""
        self._expire(now)
        due = max(now, self._next_due - self.burst_s)
        if self.max_requests is not None and len(self._grants) + 1 > self.max_requests:
            due = max(due, self._grants[len(self._grants) - self.max_requests][0] + self.window_s)
        if self.max_tokens is not None:
            # A request larger than the whole window goes alone.
            excess = self._tokens + min(tokens, self.max_tokens) - self.max_tokens
            for when, _, booked in self._grants:
                if excess <= 0:
                    break
                excess -= booked
                due = max(due, when + self.window_s)
        return due - now

    def record(self, now: float, permit: int, tokens: float) -> None:
        entry = [now, permit, tokens]
        self._next_due = max(self._next_due, now) + self.spacing_s
        self._grants.append(entry)
        self._tokens_by_permit[permit] = entry
        self._tokens += tokens

    def correct(self, permit: int, tokens: float) -> None:
        """Replace a grant's booked tokens with what the answer used (if still in the window)."""
        entry = self._tokens_by_permit.get(permit)
        if entry is not None:
            self._tokens += tokens - entry[2]
            entry[2] = tokens

    def _expire(self, now: float) -> None:
        while self._grants and self._grants[0][0] + self.window_s <= now:
            _, permit, tokens = self._grants.popleft()
            self._tokens_by_permit.pop(permit, None)
            self._tokens -= tokens


class SpendLedger:
    """Spent and reserved USD against an optional limit."""

    def __init__(self, limit: float | None):
        self.limit = limit
        self.spent = 0.0
        self._reserved: dict[int, float] = {}

    @property
    def reserved(self) -> float:
        return sum(self._reserved.values())

    def refusal(self, cost: float) -> str:
        """Why a request costing up to `cost` can never go ("" when it can, now or later)."""
        if self.limit is None or self._reserved or self.spent + cost <= self.limit:
            return ""
        return (
            f"{SPEND_LIMIT_REACHED}: ${self.spent:.4f} of ${self.limit:.4f} spent, "
            f"the next request may cost ${cost:.4f}"
        )

    def fits(self, cost: float) -> bool:
        return self.limit is None or self.spent + self.reserved + cost <= self.limit

    def reserve(self, permit: int, cost: float) -> None:
        self._reserved[permit] = cost

    def settle(self, permit: int, cost: float | None) -> None:
        """`cost` None: charge what was reserved (the request may have been billed)."""
        reserved = self._reserved.pop(permit, 0.0)
        self.spent += reserved if cost is None else cost


class PromptTokenRatio:
    """Real prompt tokens per estimated one, from every answered request so far."""

    LOWEST, HIGHEST = 0.25, 4.0  # one odd answer early on must not swing the budget far

    def __init__(self):
        self._estimated = 0
        self._actual = 0

    @property
    def value(self) -> float:
        if not self._estimated:
            return 1.0
        return min(self.HIGHEST, max(self.LOWEST, self._actual / self._estimated))

    def scale(self, estimate: int) -> int:
        return math.ceil(estimate * self.value)

    def learn(self, estimate: int, actual: int) -> None:
        if estimate > 0 and actual > 0:
            self._estimated += estimate
            self._actual += actual


def _window(requests_per_minute: float | None, tokens_per_minute: float | None, window_s: float) -> SlidingWindow:
    per_window = window_s / 60.0
    return SlidingWindow(
        requests_per_minute * per_window if requests_per_minute else None,
        tokens_per_minute * per_window if tokens_per_minute else None,
        window_s,
    )
