"""The paused cut-over itself: the pause holds through a slow promotion, and un-pauses in every case."""

from __future__ import annotations

import threading
import time

from migrator.replication import paused_cut_over
from tests.helpers.servers import ServerProcess, promote, replicate


def test_writes_stay_paused_through_a_promotion_slower_than_the_catch_up_timeout(
    source: ServerProcess, target: ServerProcess
) -> None:
    replicate(target, source)
    moments: dict[str, float] = {}
    writer = threading.Thread(target=lambda: (source.client().set("late", 1), moments.setdefault("write", 0)))

    def slow_promotion() -> None:
        writer.start()  # blocks behind the pause
        time.sleep(1.8)  # longer than timeout + 1 s: the first pause alone would have lapsed by now
        assert "write" not in moments, "a write went through while the cut-over was promoting"
        promote(target)

    cut = paused_cut_over(
        [(source.client(), target.client())], timeout=0.5, promote=slow_promotion, fence=False
    )
    writer.join(5)
    assert cut.catch_up.caught_up and cut.source_fenced is None
    assert "write" in moments  # un-paused at the end
    assert cut.pause_ms >= 1800


def test_the_source_is_unpaused_when_the_target_never_catches_up(
    source: ServerProcess, target: ServerProcess
) -> None:
    replicate(target, source)
    target.client().replicaof("NO", "ONE")  # the link is gone: the offsets can never meet
    cut = paused_cut_over([(source.client(), target.client())], timeout=0.3, promote=lambda: None)
    assert not cut.catch_up.caught_up and cut.source_fenced is None
    begun = time.monotonic()
    source.client().set("after", 1)
    assert time.monotonic() - begun < 0.5
