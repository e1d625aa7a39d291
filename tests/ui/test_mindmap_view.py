"""The mind-map view: every node drawn once, folding hides a branch, a click hands the node on, a
small map fits without scroll bars, and the tidy-tree layout puts a parent between its children."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QPoint, Qt

from notebooklm_local.ui.mindmap_view import MindMapView, layout_tree

pytestmark = [pytest.mark.gui]


def _tree() -> dict[str, Any]:
    leaf = lambda t: {"title": t, "children": [], "passages": [t]}  # noqa: E731
    return {"title": "Notebook", "children": [
        {"title": "Retrieval", "children": [leaf("BM25 ranks by rare terms"), leaf("Dense vectors")]},
        {"title": "Citations", "children": [leaf("Each sentence cites a passage")]},
    ]}


def test_layout_puts_leaves_on_rows_and_parents_between_their_children() -> None:
    root = _tree()
    placed = layout_tree(root, set())
    assert len(placed) == 6
    retrieval = root["children"][0]
    ys = sorted(placed[id(k)][1] for k in retrieval["children"])
    assert placed[id(retrieval)][0] == 1 and placed[id(retrieval)][1] == pytest.approx(sum(ys) / 2)
    leaf_rows = sorted(y for d, y, _ in placed.values() if d == 2)
    assert len(set(leaf_rows)) == 3  # one row per leaf
    folded = layout_tree(root, {id(retrieval)})
    assert len(folded) == 4  # the folded branch's two leaves are hidden


def test_view_draws_folds_emits_and_fits(qtbot: Any) -> None:
    view = MindMapView()
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    qtbot.waitExposed(view)
    root = _tree()
    view.set_tree(root)
    assert len(view.node_items) == 6
    # a small map: natural size (never blown up), no scroll bars
    assert view.zoom == pytest.approx(1.0)
    assert not view.horizontalScrollBar().isVisible() and not view.verticalScrollBar().isVisible()
    retrieval = root["children"][0]
    view.toggle_fold(retrieval)
    assert len(view.node_items) == 4
    view.toggle_fold(retrieval)
    assert len(view.node_items) == 6
    got: list[Any] = []
    view.node_activated.connect(got.append)
    leaf = retrieval["children"][0]
    item = view.node_items[id(leaf)]
    pos: QPoint = view.mapFromScene(item.rect().center())
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert got and got[0] is leaf
    view.set_tree(None)
    assert view.node_items == {}


def test_a_large_map_fits_whole_with_no_scroll_bars(qtbot: Any) -> None:
    view = MindMapView()
    qtbot.addWidget(view)
    view.resize(700, 420)
    view.show()
    qtbot.waitExposed(view)
    root = {"title": "Library", "children": [
        {"title": f"Source {i}", "children": [{"title": f"Point {i}.{j} about the source", "children": []}
                                             for j in range(5)]} for i in range(8)]}
    view.set_tree(root)
    assert view.zoom < 1.0  # 40 leaves do not fit at natural size
    qtbot.wait(50)
    assert not view.horizontalScrollBar().isVisible() and not view.verticalScrollBar().isVisible()
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert visible.contains(view.scene().itemsBoundingRect())


def _wide_tree() -> dict[str, Any]:
    leaf = lambda t: {"title": t, "children": [], "passages": [t]}  # noqa: E731
    return {"title": "QA test", "children": [
        {"title": f"Source {i}", "children": [
            {"title": f"topic {i}.{j}", "children": [leaf(f"A long key sentence number {i}.{j}.{k} of the source "
                                                        "that makes the leaves wide") for k in range(2)]}
            for j in range(4)]} for i in range(2)]}


def test_a_map_set_while_hidden_fits_once_shown_until_the_user_zooms(qtbot: Any) -> None:
    """As in the Extract tab: the tree is set while the view is a hidden page at another size; shown, the
    whole map is in view (the root was cut off on the left, the leaves on the right); a resize keeps it
    fitted, but not after the user zoomed."""
    from PySide6.QtWidgets import QStackedWidget, QWidget

    host = QStackedWidget()
    qtbot.addWidget(host)
    host.addWidget(QWidget())
    view = MindMapView()
    host.addWidget(view)
    host.resize(500, 520)
    host.show()
    qtbot.waitExposed(host)
    view.set_tree(_wide_tree())
    host.setCurrentWidget(view)
    qtbot.wait(50)

    def whole_map_visible() -> bool:
        shown = view.mapToScene(view.viewport().rect()).boundingRect()
        return shown.adjusted(-1, -1, 1, 1).contains(view.scene().itemsBoundingRect())

    assert whole_map_visible() and view.zoom < 1.0
    small = view.zoom
    host.resize(900, 700)
    qtbot.wait(50)
    assert whole_map_visible() and view.zoom > small
    view.zoom_by(1.25)  # the user's zoom stays through a resize
    zoomed = view.zoom
    host.resize(600, 600)
    qtbot.wait(50)
    assert view.zoom == pytest.approx(zoomed)
    view.fit()  # Fit: fitted again, and kept so
    host.resize(500, 520)
    qtbot.wait(50)
    assert whole_map_visible()
