"""GcPauses records the cyclic collector's pauses; freeze_startup_heap keeps the start-up heap out of them."""

from __future__ import annotations

import gc

from notebooklm_local.ui.application import freeze_startup_heap
from notebooklm_local.ui.heartbeat import GcPauses


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
