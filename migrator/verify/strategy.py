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
WINDOW = 6  # batches per measurement, after the first completion
SMOOTHING = 0.3  # weight of a new measurement against the estimate so far
SWITCH_MARGIN = 1.3  # the other strategy must be this much faster to take over
EXPLORE_COST = 0.02
MIN_EXPLORE_GAP, MAX_EXPLORE_GAP = 32, 256  # batches between measurements of the slower strategy


class StrategyChooser:
    """Say which strategy the next batch uses (`next`); learn from completions (`completed`)."""

    def __init__(self, strategies: tuple[str, ...] | None = None, window: int = WINDOW) -> None:
        self.strategies = strategies or STRATEGIES
        self.window = window
        self.rates: dict[str, float] = {}  # keys per second, latest measurement
        self._plan: deque[str] = deque()
        self._probed: set[str] = set()
        self._since_probe = 0
        self._current: str | None = None  # the strategy exploited between probes
        # The run of consecutive completions of one strategy being measured.
        self._run_strategy: str | None = None
        self._run_start = 0.0
        self._run_keys = 0
        self._run_batches = 0
        self.batches = dict.fromkeys(self.strategies, 0)

    def next(self) -> str:
        strategy = self._choose()
        self.batches[strategy] += 1
        return strategy

    def _choose(self) -> str:
        if self._plan:
            return self._plan.popleft()
        for strategy in self.strategies:
            if strategy not in self._probed:
                self._probed.add(strategy)
                return self._probe(strategy)
            if strategy not in self.rates:
                return strategy  # its measurement is still in flight: keep it going until it completes
        if len(self.strategies) == 1:
            return self.strategies[0]
        best = max(self.strategies, key=self.rates.__getitem__)
        if self._current is None or self.rates[best] > SWITCH_MARGIN * self.rates[self._current]:
            self._current = best
        other = next(s for s in self.strategies if s != self._current)
        self._since_probe += 1
        if self._since_probe >= self._explore_gap(self.rates[self._current] / self.rates[other]):
            self._since_probe = 0
            return self._probe(other)
        return self._current

    def _probe(self, strategy: str) -> str:
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
        if self._run_batches >= self.window and now > self._run_start:
            rate = self._run_keys / (now - self._run_start)
            known = self.rates.get(strategy)
            self.rates[strategy] = rate if known is None else SMOOTHING * rate + (1 - SMOOTHING) * known
            self._run_start, self._run_keys, self._run_batches = now, 0, 0
