"""The chain-of-density chart: entity density per step as a row of bars."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QFont, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from notebooklm_local.ui.theme import color

__all__ = ["DensityChart"]


class DensityChart(QWidget):
    """Entity density per step as a row of bars; the chosen step is highlighted; click a bar to choose it."""

    step_clicked = Signal(int)  # 1-based

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("cod-density-chart")
        self.setAccessibleName("Entity density per step")
        self.densities: list[float] = []
        self.selected = 0
        self.setMinimumHeight(96)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_steps(self, densities: Sequence[float], selected: int) -> None:
        self.densities = list(densities)
        self.selected = selected
        self.setToolTip("\n".join(f"Step {i}: density {d:.3f}" for i, d in enumerate(self.densities, 1)))
        self.update()

    def _bars(self) -> list[QRectF]:
        n = len(self.densities)
        if not n:
            return []
        top, bottom = 16.0, float(self.height() - 16)
        width = float(self.width() - 8)
        slot = width / max(n, 5)
        peak = max(self.densities) or 1.0
        out = []
        for i, d in enumerate(self.densities):
            h = max(2.0, (bottom - top) * d / peak)
            out.append(QRectF(4 + i * slot + slot * 0.15, bottom - h, slot * 0.7, h))
        return out

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), color("chart_bg"))
        font = QFont(self.font())
        font.setPointSizeF(max(6.0, font.pointSizeF() * 0.8))
        painter.setFont(font)
        if not self.densities:
            painter.setPen(color("muted"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Entity density per step")
            painter.end()
            return
        bottom = float(self.height() - 16)
        painter.setPen(QPen(color("chart_axis")))
        painter.drawLine(QPointF(2, bottom), QPointF(self.width() - 2, bottom))
        for i, (rect, d) in enumerate(zip(self._bars(), self.densities, strict=True), 1):
            chosen = i == self.selected
            painter.fillRect(rect, color("chart_bar_selected" if chosen else "chart_bar"))
            painter.setPen(color("chart_text_selected" if chosen else "chart_text"))
            painter.drawText(QRectF(rect.x() - 10, rect.y() - 15, rect.width() + 20, 14),
                             Qt.AlignmentFlag.AlignCenter, f"{d:.3f}")
            painter.drawText(QRectF(rect.x() - 10, bottom + 1, rect.width() + 20, 14), Qt.AlignmentFlag.AlignCenter,
                             str(i))
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        x = event.position().x()
        for i, rect in enumerate(self._bars(), 1):
            if rect.left() - 4 <= x <= rect.right() + 4:
                self.step_clicked.emit(i)
                return
        super().mousePressEvent(event)
