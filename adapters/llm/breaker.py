"""CircuitBreaker: stop calling a provider after repeated failures, and let one probe through after a cool-down."""
from __future__ import annotations

import time
from typing import Callable, Literal

State = Literal["closed", "open", "half_open"]
STATE_NUMBER = {"closed": 0, "half_open": 1, "open": 2}  # the metrics gauge's value


class CircuitBreaker:
    """closed: calls go through, failures in a row are counted; `threshold` of them open it. open: calls are
    refused until `cooldown_seconds` have passed, then it is half-open: one call (the probe) goes through, and
    its success closes the breaker, its failure opens it again for another cool-down."""

    def __init__(self, threshold: int = 5, cooldown_seconds: float = 30.0,
                 clock: Callable[[], float] = time.monotonic):
        self.threshold = threshold
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self.failures = 0          # in a row
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> State:
        if self._opened_at is None:
            return "closed"
        if self._probing or self._clock() - self._opened_at >= self.cooldown_seconds:
            return "half_open"
        return "open"

    def allow(self) -> bool:
        """Whether a call may go to the provider now (a half-open breaker lets only one probe through)."""
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._probing:
            self._probing = True
            return True
        return False

    def success(self) -> None:
        self.failures = 0
        self._opened_at = None
        self._probing = False

    def failure(self) -> None:
        self.failures += 1
        if self._probing or self.failures >= self.threshold:
            self._opened_at = self._clock()
            self._probing = False

    def retry_in(self) -> float:
        """Seconds until an open breaker lets a probe through (0 when it is not open)."""
        if self.state != "open" or self._opened_at is None:
            return 0.0
        return max(0.0, self.cooldown_seconds - (self._clock() - self._opened_at))


class Breakers:
    """One CircuitBreaker per provider name, made on first use."""

    def __init__(self, threshold: int = 5, cooldown_seconds: float = 30.0,
                 clock: Callable[[], float] = time.monotonic):
        self._make = lambda: CircuitBreaker(threshold, cooldown_seconds, clock)
        self._breakers: dict[str, CircuitBreaker] = {}

    def of(self, provider: str) -> CircuitBreaker:
        breaker = self._breakers.get(provider)
        if breaker is None:
            breaker = self._breakers[provider] = self._make()
        return breaker

    def snapshot(self, providers: list[str]) -> list[dict]:
        """[{provider, state, failures, retry_in_seconds}] for /status, in the order given."""
        return [{"provider": name, "state": self.of(name).state, "failures": self.of(name).failures,
                 "retry_in_seconds": round(self.of(name).retry_in(), 1)} for name in providers]
