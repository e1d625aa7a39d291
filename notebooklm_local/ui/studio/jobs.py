"""The studio pane's jobs: one per tab (or per side job), each run through
:class:`~notebooklm_local.ui.ops.BackgroundOp`.

A job carries what the tab's callbacks need on the GUI thread: the tab and its job bar, the notebook it was
started for (a result for another notebook is dropped: :attr:`StudioJob.stale`), the streamed tokens (painted
in batches by the pane's timer), chain-of-density steps and stage reports. The work reaches these through a
:class:`Relay` (``relay.token.emit(piece)``, ``relay.step.emit(step)``, ``relay.stage.emit(report)``), which
posts them through the op: queued to the GUI thread, in order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from notebooklm_local.services.studio.stages import StageReport
from notebooklm_local.ui.ops import BackgroundOp
from notebooklm_local.ui.studio.widgets import JobBar

__all__ = ["Relay", "StudioJob"]

log = logging.getLogger(__name__)


class _Channel:
    """One kind of item the work hands over (``emit`` is called on the worker thread)."""

    def __init__(self, job: StudioJob, kind: str) -> None:
        self.job, self.kind = job, kind

    def emit(self, value: Any) -> None:
        op = self.job.op
        if op is not None:
            op.post((self.kind, value))


class Relay:
    """Carries tokens, chain-of-density steps and stage reports from the worker thread to the GUI thread."""

    def __init__(self, job: StudioJob) -> None:
        self.token = _Channel(job, "token")
        self.step = _Channel(job, "step")
        self.stage = _Channel(job, "stage")


class StudioJob:
    """One background job of a tab; its callbacks run on the GUI thread."""

    def __init__(self, pane: Any, tab: Any, bar: JobBar, *, on_success: Callable[[Any], None],
                 on_failure: Callable[[BaseException], None] | None, on_tokens: Callable[[str], None] | None,
                 on_step: Callable[[Any], None] | None) -> None:
        self.pane, self.tab, self.bar = pane, tab, bar
        self.on_success, self.on_failure, self.on_tokens, self.on_step = on_success, on_failure, on_tokens, on_step
        self.notebook_id = pane.notebook_id
        self.slot: Any = None
        self.quiet = False
        self.op: BackgroundOp | None = None
        self.tokens: list[str] = []
        self.relay = Relay(self)

    def start(self, fn: Callable[..., Any], *, lane: str) -> None:
        """Run ``fn(cancel=..., progress=...)`` on ``lane`` of the pane's lanes."""
        self.op = BackgroundOp(self.pane, fn, lanes=self.pane.lanes, lane=lane, context=True, label="Studio",
                               on_success=self._on_succeeded, on_failure=self._on_failed,
                               on_progress=self._on_progress, on_post=self._on_post,
                               on_finished=self._on_finished)
        self.op.run()

    def cancel(self) -> None:
        if self.op is not None:
            self.op.cancel()

    def flush(self) -> None:
        self.bar.flush()
        if self.tokens:
            text, self.tokens = "".join(self.tokens), []
            if self.on_tokens is not None:
                self.on_tokens(text)

    @property
    def stale(self) -> bool:
        """The notebook changed while the job ran: its result is not for what is shown now."""
        return self.notebook_id != self.pane.notebook_id

    def _on_post(self, item: Any) -> None:
        kind, value = item
        if kind == "token":
            self.tokens.append(value)
        elif kind == "step":
            if self.on_step is not None and not self.stale:
                self.on_step(value)
        elif kind == "stage" and isinstance(value, StageReport):
            self.bar.queue_stage(value)

    def _on_progress(self, done: int, total: int, message: str) -> None:
        self.bar.queue(done, total, message)

    def _on_succeeded(self, result: object) -> None:
        self.tokens = []
        if not self.stale:
            self.on_success(result)

    def _on_failed(self, exc: BaseException) -> None:
        self.tokens = []
        self.pane._report_failure(self.bar, exc)  # noqa: SLF001
        if self.on_failure is not None and not self.stale:
            self.on_failure(exc)

    def _on_finished(self) -> None:
        if not self.quiet:  # a quiet side job (finding the voices) shares the tab's bar: it must not hide a
            self.bar.end()  # running job's progress
        self.pane._job_finished(self)  # noqa: SLF001
