"""Per batch: fetch the values, or digest them on the servers — whichever runs faster here.

Fetching moves every value across the link twice but costs the servers little; digesting (digest.lua) moves
a few bytes per batch but costs each server a Lua call per key. On loopback the first wins (the servers'
CPU is the limit), through a throttled tunnel the second (bytes are). Rather than guess the link from a
round-trip time (a token bucket or a tunnel's throttle does not show in an idle ping), each strategy is
measured: keys per second between consecutive completions of its own batches, so batches of the other
strategy still in flight do not count, nor the first ones after a switch (see `warmup`).

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
LONG_WINDOW = 16  # the strategy in use is rated over its last LONG_WINDOW batches: a burst is diluted
SWITCH_MARGIN = 1.25  # the other strategy must be this much faster, twice in a row, to take over
EXPLORE_COST = 0.02
MIN_EXPLORE_GAP, MAX_EXPLORE_GAP = 32, 512  # batches between measurements of the other strategy


class StrategyChooser:
    """Say which strategy the next batch uses (`next`); learn from completions (`completed`)."""

    def __init__(self, strategies: tuple[str, ...] | None = None, window: int = WINDOW) -> None:
        self.strategies = strategies or STRATEGIES
        self.window = window
        # Completions after a switch that do not count: batches the servers worked on while the client was
        # still busy with the other strategy's replies finish early, flattering the new one.
        self.warmup = 1
        self.rates: dict[str, float] = {}  # keys per second
        self._recent: deque[tuple[float, int]] = deque(maxlen=LONG_WINDOW + 1)  # (time, keys) of the run
        self.batches = dict.fromkeys(self.strategies, 0)
        self._plan: deque[str] = deque()  # the probe's batches still to submit
        self._probing: str | None = None  # whose measurement is under way
        self._confirming = False  # the probe under way would confirm a switch
        self._current: str | None = None  # the strategy in use between probes
        self._since_probe = 0
        # The run of consecutive completions of one strategy being measured.
        self._run_strategy: str | None = None
        self._run_start = self._run_end = self._run_begun = 0.0
        self._run_seen = 0  # completions in this run, warm-up included
        self._run_all_keys = 0  # keys completed in this run after its first completion, warm-up included
        self._probe_id = 0  # which probe is under way
        self._run_probe = -1  # the probe this run measures, if any
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
        """Plan warmup + window batches of `strategy` in a row (counting the one being submitted, if so)."""
        self._probing = strategy
        self._probe_id += 1
        self._since_probe = 0
        self._plan.extend([strategy] * (self.warmup + self.window - submitting))
        return strategy

    def _explore_gap(self, ratio: float) -> float:
        """Batches between probes: a probe loses (window + 1) * (ratio - 1) batches' time, EXPLORE_COST."""
        return min(MAX_EXPLORE_GAP, max(MIN_EXPLORE_GAP, (self.window + 1) * (ratio - 1) / EXPLORE_COST))

    def completed(self, strategy: str, keys: int, now: float) -> None:
        """A batch of `keys` keys with `strategy` has been fully compared at time `now`."""
        if strategy != self._run_strategy:
            if self._probing is not None and self._run_probe == self._probe_id:
                self._probe_cut_short()  # the probe's own run ended before its measurement
            self._run_strategy, self._run_begun, self._run_seen, self._run_all_keys = strategy, now, 0, 0
            self._run_start, self._run_keys, self._run_batches = now, 0, 0
            self._run_probe = self._probe_id if strategy == self._probing else -1
            self._recent.clear()
        elif self._run_seen:
            self._run_all_keys += keys
        self._run_seen += 1
        if self._clearly_slower(strategy, now):
            rate = self._run_all_keys / (now - self._run_begun)
            self._run_start, self._run_keys, self._run_batches = now, 0, 0
            self._run_probe = -1
            self._measured(strategy, rate, True)
            return
        if self._run_seen <= self.warmup:
            self._run_start = self._run_end = now  # the clock starts at the last warm-up completion
            return
        if not self._recent:
            self._recent.append((self._run_start, 0))
        self._recent.append((now, keys))
        self._run_keys += keys
        self._run_batches += 1
        self._run_end = now
        if self._run_batches >= self.window and now > self._run_start:
            rate = self._run_keys / (now - self._run_start)
            self._run_start, self._run_keys, self._run_batches = now, 0, 0
            probed, self._run_probe = self._run_probe == self._probe_id and self._probing is not None, -1
            self._measured(strategy, rate, probed)

    def _clearly_slower(self, strategy: str, now: float) -> bool:
        """A probe that, warm-up included (which only flatters it), runs at under half the current rate."""
        current = self.rates.get(self._current) if self._current else None
        if strategy != self._probing or not current or self._run_seen < EARLY + 1 or now <= self._run_begun:
            return False
        if self._run_probe != self._probe_id:
            return False
        return self._run_all_keys / (now - self._run_begun) < current / 2

    def _probe_cut_short(self) -> None:
        """The probe's run ended before its window: measure what it did, if anything."""
        strategy = self._run_strategy
        if strategy and self._run_batches and self._run_start < self._run_end:
            self._measured(strategy, self._run_keys / (self._run_end - self._run_start), True)
        else:
            self._probing, self._confirming = None, False
            self._plan.clear()

    def _measured(self, strategy: str, rate: float, probed: bool) -> None:
        if not probed:  # the strategy in use, between probes: over its last LONG_WINDOW batches
            (begun, _), *later = self._recent
            if later and later[-1][0] > begun:
                self.rates[strategy] = sum(keys for _, keys in later) / (later[-1][0] - begun)
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
