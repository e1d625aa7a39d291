"""A zoomable mind map: a tree drawn left to right, each node clickable (its passages), branches foldable.

The view draws any tree whose nodes have ``title`` and ``children`` (the model-free outline map of
``core.extractive`` and, later, a generated one). Layout is the classic tidy tree for a horizontal
outline: leaves take consecutive rows, a parent sits at the middle of its children; columns are as wide
as their widest label. Colours come from the palette, so the map reads in the light and dark themes.

Signals:
    node_activated(object): a node was clicked (the main window opens its first passage).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QWidget,
)

from notebooklm_local.ui.theme import branch_fill, color, on_theme_changed

__all__ = ["MindMapView", "layout_tree"]

ROW_H = 34.0  # vertical room of one leaf
COL_GAP = 48.0  # horizontal gap between a column's widest node and the next column
PAD_X, PAD_Y = 10.0, 6.0
MAX_LABEL = 48  # characters shown in a node (the tooltip has the whole title)


def _children(node: Any) -> Sequence[Any]:
    kids = node.get("children") if isinstance(node, dict) else getattr(node, "children", None)
    return list(kids or [])


def _title(node: Any) -> str:
    t = node.get("title") if isinstance(node, dict) else getattr(node, "title", "")
    return str(t or "")


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1].rstrip() + "\u2026"


def layout_tree(root: Any, folded: set[int]) -> dict[int, tuple[int, float, Any]]:
    """Place every visible node: ``id(node) -> (depth, y, node)``; leaves on consecutive rows.

    ``folded`` holds the ids of nodes whose children are hidden. Iterative (a deep or wide tree cannot hit
    the recursion limit).
    """
    out: dict[int, tuple[int, float, Any]] = {}
    next_row = 0.0
    # post-order without recursion: (node, depth, expanded?)
    stack: list[tuple[Any, int, bool]] = [(root, 0, False)]
    while stack:
        node, depth, expanded = stack.pop()
        kids = [] if id(node) in folded else _children(node)
        if not kids:
            out[id(node)] = (depth, next_row * ROW_H, node)
            next_row += 1
            continue
        if not expanded:
            stack.append((node, depth, True))
            for kid in reversed(kids):
                stack.append((kid, depth + 1, False))
            continue
        ys = [out[id(k)][1] for k in kids]
        out[id(node)] = (depth, (min(ys) + max(ys)) / 2, node)
    return out


class _NodeItem(QGraphicsRectItem):
    def __init__(self, view: MindMapView, node: Any, rect: QRectF, fill: QColor, text: QColor, bold: bool,
                 has_children: bool, folded: bool) -> None:
        super().__init__(rect)
        self.view = view
        self.node = node
        self.setBrush(QBrush(fill))
        self.setPen(QPen(fill.darker(130), 1))
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        title = _title(node)
        n = len(_passages(node))
        tip = title + (f"\n{n} passage{'s' if n != 1 else ''} — click to open" if n else "")
        if has_children:
            tip += "\nDouble-click to " + ("unfold" if folded else "fold") + " this branch"
        self.setToolTip(tip)
        label = QGraphicsSimpleTextItem(_short(title) + (" \u25b8" if folded else ""), self)
        f = QFont(view.font())
        f.setBold(bold)
        label.setFont(f)
        label.setBrush(QBrush(text))
        label.setPos(rect.x() + PAD_X, rect.y() + PAD_Y)

    def mousePressEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        if event.button() == Qt.MouseButton.LeftButton:
            self.view.node_activated.emit(self.node)
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        self.view.toggle_fold(self.node)


def _passages(node: Any) -> Sequence[Any]:
    got = node.get("passages") if isinstance(node, dict) else getattr(node, "passages", None)
    if got is None:
        got = node.get("citations") if isinstance(node, dict) else getattr(node, "citations", None)
    return list(got or [])


class MindMapView(QGraphicsView):
    """The tree on a scene; Ctrl+wheel (or plain wheel) zooms around the cursor, drag pans."""

    node_activated = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mindmap-view")
        self.setAccessibleName("Mind map")
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.root: Any = None
        self.folded: set[int] = set()
        self.node_items: dict[int, _NodeItem] = {}
        self.zoom = 1.0
        # fit again when the view is resized, until the user zooms: the tree is often set while the view is a
        # hidden page (at another size), and a window resize should keep a fitted map fitted
        self.auto_fit = True
        on_theme_changed(self, MindMapView.redraw)  # the nodes' colours are the theme's

    # -- public ---------------------------------------------------------------------------------
    def set_tree(self, root: Any) -> None:
        """Show ``root``'s tree (None: clear). Branches below the second level start folded when large."""
        self.root = root
        self.folded = set()
        if root is not None:
            for top in _children(root):
                for sub in _children(top):
                    if len(_children(sub)) > 6:
                        self.folded.add(id(sub))
        self.redraw()
        self.fit()

    def toggle_fold(self, node: Any) -> None:
        if not _children(node):
            return
        self.folded ^= {id(node)}
        self.redraw()

    def fit(self) -> None:
        self.auto_fit = True
        rect = self.scene().itemsBoundingRect()
        if rect.isEmpty():
            return
        self.resetTransform()
        # the scene rect (the items and a 30 px margin): fitting anything smaller leaves scroll bars at start
        self.fitInView(self.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
        scale = self.transform().m11()
        if scale > 1.0:  # a small map: natural size, not blown up
            self.resetTransform()
            scale = 1.0
        self.zoom = scale

    def zoom_by(self, factor: float) -> None:
        self.auto_fit = False
        new = max(0.1, min(4.0, self.zoom * factor))
        self.scale(new / self.zoom, new / self.zoom)
        self.zoom = new

    # -- drawing --------------------------------------------------------------------------------
    def redraw(self) -> None:
        scene = self.scene()
        scene.clear()
        self.node_items = {}
        if self.root is None:
            return
        placed = layout_tree(self.root, self.folded)
        fm = QFontMetricsF(self.font())
        bold = QFont(self.font())
        bold.setBold(True)
        fmb = QFontMetricsF(bold)
        widths: dict[int, float] = {}
        sizes: dict[int, QRectF] = {}
        for key, (depth, _y, node) in placed.items():
            metrics = fmb if depth <= 1 else fm
            folded = key in self.folded
            w = metrics.horizontalAdvance(_short(_title(node)) + (" \u25b8" if folded else "")) + 2 * PAD_X
            h = metrics.height() + 2 * PAD_Y
            sizes[key] = QRectF(0, 0, w, h)
            widths[depth] = max(widths.get(depth, 0.0), w)
        xs: dict[int, float] = {}
        x = 0.0
        for depth in sorted(widths):
            xs[depth] = x
            x += widths[depth] + COL_GAP
        text_color = color("text")
        edge_color = color("mindmap_edge")
        branch_of: dict[int, int] = {}
        for i, top in enumerate(_children(self.root)):
            stack = [top]
            while stack:
                n = stack.pop()
                branch_of[id(n)] = i
                stack.extend(_children(n))
        rects: dict[int, QRectF] = {}
        for key, (depth, y, _node) in placed.items():
            s = sizes[key]
            rects[key] = QRectF(xs[depth], y - s.height() / 2, s.width(), s.height())
        # edges first (under the nodes)
        for key, (_depth, _y, node) in placed.items():
            if key in self.folded:
                continue
            a = rects[key]
            for kid in _children(node):
                b = rects.get(id(kid))
                if b is None:
                    continue
                p1 = QPointF(a.right(), a.center().y())
                p2 = QPointF(b.left(), b.center().y())
                path = QPainterPath(p1)
                mid = (p1.x() + p2.x()) / 2
                path.cubicTo(QPointF(mid, p1.y()), QPointF(mid, p2.y()), p2)
                item = QGraphicsPathItem(path)
                item.setPen(QPen(edge_color, 1.4))
                item.setZValue(-1)
                scene.addItem(item)
        for key, (depth, _y, node) in placed.items():
            if depth == 0:
                fill = color("mindmap_root_bg")
                txt = color("mindmap_root_fg")
            else:
                fill = branch_fill(branch_of.get(key, 0), depth)
                txt = text_color
            item = _NodeItem(self, node, rects[key], fill, txt, depth <= 1, bool(_children(node)),
                             key in self.folded)
            item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, False)
            scene.addItem(item)
            self.node_items[key] = item
        scene.setSceneRect(scene.itemsBoundingRect().adjusted(-30, -30, 30, 30))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if self.auto_fit and self.root is not None:
            self.fit()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier or not self.verticalScrollBar().isVisible():
            self.zoom_by(1.15 if event.angleDelta().y() > 0 else 1 / 1.15)
            event.accept()
            return
        super().wheelEvent(event)
