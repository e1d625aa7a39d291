"""A heartbeat on the GUI thread: how long the event loop was unable to run (responsiveness checks).

A precise ``QTimer`` ticks every ``interval_ms`` on the thread that owns the probe (the GUI thread);
each tick records the time since the previous one. A gap much longer than the interval means the event
loop was blocked: by work done on the GUI thread, or by a worker thread holding the GIL.

    hb = Heartbeat(); hb.start()
    ...  # run the event loop
    report = hb.stop()  # report.max_ms, report.p99_ms, report.over(50), report.worst
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer, Slot

__all__ = ["GcPauses", "Heartbeat", "HeartbeatReport", "run_until"]


@dataclass
class HeartbeatReport:
    """Gaps between ticks, in ms, with when each one ended (seconds since start)."""

    interval_ms: int
    gaps_ms: list[float] = field(default_factory=list)
    ends_s: list[float] = field(default_factory=list)
    seconds: float = 0.0
    started: float = 0.0  # time.perf_counter() at start: ends_s + started is a perf_counter time

    @property
    def ticks(self) -> int:
        return len(self.gaps_ms)

    @property
    def max_ms(self) -> float:
        return max(self.gaps_ms, default=0.0)

    @property
    def p99_ms(self) -> float:
        return self.percentile(99)

    def percentile(self, p: float) -> float:
        xs = sorted(self.gaps_ms)
        if not xs:
            return 0.0
        return xs[min(len(xs) - 1, round((len(xs) - 1) * p / 100))]

    def over(self, ms: float) -> int:
        """How many gaps were longer than ``ms``."""
        return sum(1 for g in self.gaps_ms if g > ms)

    def worst(self, n: int = 5) -> list[tuple[float, float]]:
        """The ``n`` longest gaps as (gap ms, when it ended in s since start), longest first."""
        return sorted(zip(self.gaps_ms, self.ends_s, strict=True), reverse=True)[:n]

    def stalls(self, ms: float = 50.0) -> list[tuple[float, float]]:
        """Gaps longer than ``ms`` as (start, end) ``time.perf_counter()`` times."""
        return [(self.started + t - g / 1000.0, self.started + t) for g, t in zip(self.gaps_ms, self.ends_s,
                                                                                  strict=True) if g > ms]

    def summary(self) -> str:
        worst = ", ".join(f"{g:.0f} ms @{t:.1f}s" for g, t in self.worst(3))
        return (f"{self.ticks} ticks in {self.seconds:.1f} s: max {self.max_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, "
                f"gaps > 50 ms: {self.over(50)}" + (f" (worst: {worst})" if worst else ""))


class Heartbeat(QObject):
    """Records the gaps between ticks of a ``interval_ms`` timer on the thread that created it."""

    def __init__(self, interval_ms: int = 10, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.interval_ms = interval_ms
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._report = HeartbeatReport(interval_ms)
        self._t0 = self._last = 0.0

    def start(self) -> None:
        """Start a fresh recording."""
        self._t0 = self._last = time.perf_counter()
        self._report = HeartbeatReport(self.interval_ms, started=self._t0)
        self._timer.start()

    def stop(self) -> HeartbeatReport:
        """Stop and return what was recorded (the gap up to now counts as a last tick)."""
        if self._timer.isActive():
            self._tick()
            self._timer.stop()
        return self._report

    @property
    def report(self) -> HeartbeatReport:
        """What was recorded so far (live)."""
        return self._report

    @Slot()
    def _tick(self) -> None:
        now = time.perf_counter()
        self._report.gaps_ms.append((now - self._last) * 1000.0)
        self._report.ends_s.append(now - self._t0)
        self._report.seconds = now - self._t0
        self._last = now


class GcPauses:
    """Records the cyclic garbage collector's pauses as (start, end, generation) ``perf_counter`` times.

    A collection runs on whichever thread allocates when a threshold is crossed and holds the GIL for its
    whole length; a full (generation 2) one in a large heap can take 100-300 ms, which the heartbeat sees as
    a stall that no code of ours caused. Responsiveness checks count such gaps apart.
    """

    def __init__(self) -> None:
        self.pauses: list[tuple[float, float, int]] = []
        self._t0: float | None = None

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._t0 = now
        elif self._t0 is not None:
            self.pauses.append((self._t0, now, info.get("generation", -1)))
            self._t0 = None

    def start(self) -> GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def stop(self) -> list[tuple[float, float, int]]:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)
        return self.pauses


def run_until(predicate: Callable[[], object], timeout_s: float, poll_ms: int = 20) -> bool:
    """Run the event loop (a real ``QEventLoop``: no sleeping between events, unlike ``QTest.qWait``)
    until ``predicate()`` is true or ``timeout_s`` passed. Returns whether it became true."""
    if predicate():
        return True
    loop = QEventLoop()
    deadline = time.perf_counter() + timeout_s
    result = [False]

    def check() -> None:
        if predicate():
            result[0] = True
            loop.quit()
        elif time.perf_counter() >= deadline:
            loop.quit()

    timer = QTimer()
    timer.setInterval(poll_ms)
    timer.timeout.connect(check)
    timer.start()
    loop.exec()
    timer.stop()
    return result[0]
