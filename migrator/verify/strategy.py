"""Per batch: fetch the values, or digest them on the servers — whichever runs faster here.

Fetching moves every value across the link twice but costs the servers little; digesting (digest.lua) moves
a few bytes per batch but costs each server a Lua call per key. On loopback the first wins (the servers'
CPU is the limit), through a throttled tunnel the second (bytes are). Rather than guess the link from a
round-trip time (a token bucket or a tunnel's throttle does not show in an idle ping), each strategy is
measured: keys per second between consecutive completions of its own batches, so batches of the other
strategy still in flight do not count. Measurements are smoothed (a shared machine makes single windows
noisy) and the other strategy must be clearly faster to take over. The slower one is measured again from
time to time, in case the link or the data changes, or a noisy window misled the choice: how often
depends on how much slower it was, so that re-measuring costs about EXPLORE_COST of the run, and at
least every MAX_EXPLORE_GAP batches.
"""

from __future__ import annotations

from collections import deque

FETCH = "fetch"
DIGEST = "digest"
STRATEGIES = (DIGEST, FETCH)  # digest first: it is the safe choice on a slow link
WINDOW = 5  # batches per measurement, after the first completion
EARLY = 2  # a probe this many batches in and already twice as slow is stopped there
SMOOTHING = 0.3  # weight of a new measurement against the estimate so far
SWITCH_MARGIN = 1.3  # the other strategy must be this much faster to take over
EXPLORE_COST = 0.02
MIN_EXPLORE_GAP, MAX_EXPLORE_GAP = 32, 256  # batches between measurements of the slower strategy


class StrategyChooser:
    """Say which strategy the next batch uses (`next`); learn from completions (`completed`)."""

    def __init__(self, strategies: tuple[str, ...] | None = None, window: int = WINDOW) -> None:
        self.strategies = strategies or STRATEGIES
        self.window = window
        self.rates: dict[str, float] = {}  # keys per second, smoothed
        self.batches = dict.fromkeys(self.strategies, 0)
        self._plan: deque[str] = deque()  # the probe's batches still to submit
        self._probing: str | None = None  # whose measurement is under way
        self._current: str | None = None  # the strategy used between probes
        self._since_probe = 0
        # The run of consecutive completions of one strategy being measured.
        self._run_strategy: str | None = None
        self._run_start = 0.0
        self._run_keys = 0
        self._run_batches = 0

    def next(self) -> str:
        strategy = self._choose()
        self.batches[strategy] += 1
        return strategy

    def _choose(self) -> str:
        if self._plan:
            return self._plan.popleft()
        unmeasured = [s for s in self.strategies if s not in self.rates]
        if unmeasured and self._probing is None:
            return self._probe(unmeasured[0])
        measured = [s for s in self.strategies if s in self.rates]
        if not measured:
            return self._probing or self.strategies[0]  # the first probe is still completing
        best = max(measured, key=self.rates.__getitem__)
        if self._current not in measured or self.rates[best] > SWITCH_MARGIN * self.rates[self._current]:
            self._current = best
        if len(measured) < len(self.strategies):
            return self._current  # a probe is completing
        other = next(s for s in self.strategies if s != self._current)
        self._since_probe += 1
        if self._since_probe >= self._explore_gap(self.rates[self._current] / self.rates[other]):
            self._since_probe = 0
            return self._probe(other)
        return self._current

    def _probe(self, strategy: str) -> str:
        self._probing = strategy
        self._plan.extend([strategy] * self.window)  # plus this one: window + 1 in a row
        return strategy

    def _explore_gap(self, ratio: float) -> float:
        """Batches between probes: a probe loses (window + 1) * (ratio - 1) batches' time, EXPLORE_COST."""
        return min(MAX_EXPLORE_GAP, max(MIN_EXPLORE_GAP, (self.window + 1) * (ratio - 1) / EXPLORE_COST))

    def completed(self, strategy: str, keys: int, now: float) -> None:
        """A batch of `keys` keys with `strategy` has been fully compared at time `now`."""
        if strategy != self._run_strategy:
            self._run_strategy, self._run_start, self._run_keys, self._run_batches = strategy, now, 0, 0
            return  # the first completion only starts the clock: earlier batches were the other strategy
        self._run_keys += keys
        self._run_batches += 1
        if now <= self._run_start:
            return
        rate = self._run_keys / (now - self._run_start)
        current = self.rates.get(self._current) if self._current else None
        clearly_slower = strategy == self._probing and current and rate < current / 2
        if self._run_batches >= self.window or (self._run_batches >= EARLY and clearly_slower):
            known = self.rates.get(strategy)
            self.rates[strategy] = rate if known is None else SMOOTHING * rate + (1 - SMOOTHING) * known
            self._run_start, self._run_keys, self._run_batches = now, 0, 0
            if strategy == self._probing:
                self._probing = None
                self._plan.clear()  # a probe stopped early leaves its last batches unsent
