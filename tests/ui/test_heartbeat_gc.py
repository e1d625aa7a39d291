"""GcPauses records the cyclic collector's pauses; the start-up heap is frozen out of them once the window settles."""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, Signal

from notebooklm_local.ui.application import freeze_heap_when_settled, freeze_startup_heap
from notebooklm_local.ui.heartbeat import GcPauses, run_until


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector frees it


def test_gc_pauses_records_each_collection_with_its_generation() -> None:
    rec = GcPauses().start()
    try:
        garbage = [_Node() for _ in range(1000)]
        del garbage
        gc.collect(2)
    finally:
        pauses = rec.stop()
    assert pauses and any(g == 2 for _, _, g in pauses)
    assert all(e >= s for s, e, _ in pauses)
    n = len(pauses)
    gc.collect()
    assert len(rec.pauses) == n  # stopped: no more recording


def test_freeze_startup_heap_moves_live_objects_to_the_permanent_generation() -> None:
    keep = [_Node() for _ in range(100)]
    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() >= 100
    finally:
        gc.unfreeze()
    del keep


class _Window(QObject):
    settled = Signal()

    def __init__(self, settled: bool = False) -> None:
        super().__init__()
        self.is_settled = settled


def test_the_heap_is_frozen_when_the_window_settles_not_before(qapp: object) -> None:
    gc.unfreeze()
    win = _Window()
    try:
        freeze_heap_when_settled(win, fallback_ms=60000)  # type: ignore[arg-type]
        assert gc.get_freeze_count() == 0
        win.settled.emit()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    win.settled.emit()  # once only
    assert gc.get_freeze_count() == 0


def test_a_settled_window_freezes_at_once_and_a_start_that_never_settles_by_the_fallback(qapp: object) -> None:
    gc.unfreeze()
    try:
        freeze_heap_when_settled(_Window(settled=True))  # type: ignore[arg-type]
        assert gc.get_freeze_count() > 0
        gc.unfreeze()
        win = _Window()
        freeze_heap_when_settled(win, fallback_ms=50)  # type: ignore[arg-type]
        assert gc.get_freeze_count() == 0
        assert run_until(lambda: gc.get_freeze_count() > 0, 5)
    finally:
        gc.unfreeze()

