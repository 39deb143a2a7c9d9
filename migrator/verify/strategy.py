"""Per batch: fetch the values, or digest them on the servers — whichever runs faster here.

Fetching moves every value across the link twice but costs the servers little; digesting (digest.lua) moves
a few bytes per batch but costs each server a Lua call per key. On loopback the first wins (the servers'
CPU is the limit), through a throttled tunnel the second (bytes are). Rather than guess the link from a
round-trip time (a token bucket or a tunnel's throttle does not show in an idle ping), each strategy is
measured: keys per second between consecutive completions of its own batches, so batches of the other
strategy still in flight do not count.

The strategy in use changes only when the other one, just measured, is clearly faster (SWITCH_MARGIN)
twice in a row: on a shared machine a single window can be off by several times. The other one is
measured again from time to time, in case the link or the data changes or a noisy window misled the
choice: the gap is set so that re-measuring costs about EXPLORE_COST of the run, within
[MIN_EXPLORE_GAP, MAX_EXPLORE_GAP] batches, and a probe already twice as slow after EARLY batches stops.
"""

from __future__ import annotations

from collections import deque

FETCH = "fetch"
DIGEST = "digest"
STRATEGIES = (DIGEST, FETCH)  # digest first: it is the safe choice on a slow link
WINDOW = 4  # batches per measurement, after the first completion
EARLY = 2  # a probe this many batches in and already twice as slow is stopped there
SMOOTHING = 0.3  # weight of a new measurement of the strategy in use against its estimate so far
SWITCH_MARGIN = 1.25  # the other strategy must be this much faster, twice in a row, to take over
EXPLORE_COST = 0.02
MIN_EXPLORE_GAP, MAX_EXPLORE_GAP = 32, 512  # batches between measurements of the other strategy


class StrategyChooser:
    """Say which strategy the next batch uses (`next`); learn from completions (`completed`)."""

    def __init__(self, strategies: tuple[str, ...] | None = None, window: int = WINDOW) -> None:
        self.strategies = strategies or STRATEGIES
        self.window = window
        self.rates: dict[str, float] = {}  # keys per second
        self.batches = dict.fromkeys(self.strategies, 0)
        self._plan: deque[str] = deque()  # the probe's batches still to submit
        self._probing: str | None = None  # whose measurement is under way
        self._confirming = False  # the probe under way would confirm a switch
        self._current: str | None = None  # the strategy in use between probes
        self._since_probe = 0
        # The run of consecutive completions of one strategy being measured.
        self._run_strategy: str | None = None
        self._run_start = self._run_end = 0.0
        self._run_keys = 0
        self._run_batches = 0

    def next(self) -> str:
        strategy = self._choose()
        self.batches[strategy] += 1
        return strategy

    def _choose(self) -> str:
        if self._plan:
            return self._plan.popleft()
        if self._probing is None:
            unmeasured = [s for s in self.strategies if s not in self.rates]
            if unmeasured:
                return self._probe(unmeasured[0])
        if self._current is None:
            return self._probing or self.strategies[0]  # the first probe is still completing
        if self._probing is None and len(self.strategies) > 1:
            other = next(s for s in self.strategies if s != self._current)
            self._since_probe += 1
            if self._since_probe >= self._explore_gap(self.rates[self._current] / self.rates[other]):
                return self._probe(other)
        return self._current

    def _probe(self, strategy: str, *, submitting: bool = True) -> str:
        """Plan window + 1 batches in a row of `strategy` (counting the one being submitted, if it is)."""
        self._probing = strategy
        self._since_probe = 0
        self._plan.extend([strategy] * (self.window + (not submitting)))
        return strategy

    def _explore_gap(self, ratio: float) -> float:
        """Batches between probes: a probe loses (window + 1) * (ratio - 1) batches' time, EXPLORE_COST."""
        return min(MAX_EXPLORE_GAP, max(MIN_EXPLORE_GAP, (self.window + 1) * (ratio - 1) / EXPLORE_COST))

    def completed(self, strategy: str, keys: int, now: float) -> None:
        """A batch of `keys` keys with `strategy` has been fully compared at time `now`."""
        if strategy != self._run_strategy:
            if self._run_strategy == self._probing and self._run_batches:
                self._probe_cut_short()
            self._run_strategy, self._run_start, self._run_keys, self._run_batches = strategy, now, 0, 0
            return  # the first completion only starts the clock: earlier batches were the other strategy
        self._run_keys += keys
        self._run_batches += 1
        self._run_end = now
        if now <= self._run_start:
            return
        rate = self._run_keys / (now - self._run_start)
        current = self.rates.get(self._current) if self._current else None
        probed = strategy == self._probing
        if self._run_batches >= self.window or (
            probed and current and self._run_batches >= EARLY and rate < current / 2
        ):
            self._run_start, self._run_keys, self._run_batches = now, 0, 0
            self._measured(strategy, rate, probed)

    def _probe_cut_short(self) -> None:
        """The probe's run ended before its window: measure what it did."""
        if self._run_start < self._run_end:
            self._measured(self._run_strategy, self._run_keys / (self._run_end - self._run_start), True)
        else:
            self._probing, self._confirming = None, False
            self._plan.clear()

    def _measured(self, strategy: str, rate: float, probed: bool) -> None:
        if not probed:  # the strategy in use, between probes
            self.rates[strategy] = SMOOTHING * rate + (1 - SMOOTHING) * self.rates.get(strategy, rate)
            return
        self.rates[strategy] = rate
        self._probing = None
        self._plan.clear()  # a probe stopped early leaves its last batches unsent
        if self._current is None:
            self._current = strategy
        elif strategy != self._current and rate > SWITCH_MARGIN * self.rates[self._current]:
            if self._confirming:
                self._current, self._confirming = strategy, False
            else:
                self._confirming = True
                self._probe(strategy, submitting=False)  # measure it once more before switching
                return
        self._confirming = False
