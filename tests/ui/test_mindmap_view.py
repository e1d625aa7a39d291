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
