"""The Extract tab's timeline / data-table view: a long subject or source title does not push the text column
off the table, and wrapped rows are as tall as their text at the width the table is finally shown at."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from PySide6.QtWidgets import QStackedWidget, QWidget

from notebooklm_local.core.citations import Citation
from notebooklm_local.ui.timeline_view import TimelineTableView

pytestmark = [pytest.mark.gui]

CONTEXT = ("4 CARD32 LITERAL_OFFSET 4 CARD32 MIME_TYPE_OFFSET 4 CARD32 WEIGHT in lower 8 bits FLAGS in rest: "
           "each entry of the literal list is three words long, and the list is sorted by its literals.")


def _row(subject: str, qty: str, title: str) -> Any:
    c = Citation(1, 1, "s1", title, 12, None, 0, len(CONTEXT), CONTEXT, location="p. 12")
    return SimpleNamespace(subject=subject, quantity=qty, attribute="bits", display=CONTEXT, supported=True,
                           flag="", citation=c)


def _table() -> Any:
    rows = [_row("CARD32 LITERAL_OFFSET 4 CARD32 MIME_TYPE_OFFSET 4 CARD32 WEIGHT", "8 bits",
                 "Shared MIME-info Database specification, version 0.21"),
            _row("XML", "700K", "Shared MIME-info Database")]
    return SimpleNamespace(rows=rows, notes=[], empty_message="No numbers found.")


def test_a_long_subject_leaves_the_context_column_room_and_rows_fit_their_text(qtbot: Any) -> None:
    # as in the Extract tab: the result is set while the view is a hidden page of a stack, then shown
    host = QStackedWidget()
    qtbot.addWidget(host)
    other = QWidget()
    host.addWidget(other)
    view = TimelineTableView()
    host.addWidget(view)
    host.resize(500, 520)
    host.show()
    qtbot.waitExposed(host)
    view.set_result("data_table", _table())
    host.setCurrentWidget(view)
    qtbot.wait(50)
    table = view.table
    hh = table.horizontalHeader()
    width = table.viewport().width()
    assert hh.length() <= width + 1, "the columns fit the table: no sideways scrolling to read a row"
    assert hh.sectionSize(2) >= width * 0.3, [hh.sectionSize(j) for j in range(4)]  # the context column
    assert max(hh.sectionSize(j) for j in (0, 1, 3)) < hh.sectionSize(2)
    for r in range(table.rowCount()):  # each row as tall as its wrapped text needs, no taller
        assert table.rowHeight(r) == pytest.approx(table.sizeHintForRow(r), abs=2)
    assert table.rowHeight(0) < table.viewport().height() / 2
    context_width, first_row = hh.sectionSize(2), table.rowHeight(0)

    host.resize(900, 520)  # a wider window: the context column grows, the rows get shorter
    qtbot.wait(50)
    assert hh.sectionSize(2) > context_width and table.rowHeight(0) < first_row
    for r in range(table.rowCount()):
        assert table.rowHeight(r) == pytest.approx(table.sizeHintForRow(r), abs=2)


def test_short_columns_keep_their_natural_width(qtbot: Any) -> None:
    view = TimelineTableView()
    qtbot.addWidget(view)
    view.resize(700, 400)
    view.show()
    qtbot.waitExposed(view)
    c = Citation(1, 1, "s1", "Notes", None, None, 0, 10, "In 1998 the first site opened.")
    event = SimpleNamespace(date=SimpleNamespace(label="1998"), display="The first site opened.", supported=True,
                            flag="", citation=c)
    view.set_result("timeline", SimpleNamespace(events=[event], notes=[], empty_message=""))
    hh = view.table.horizontalHeader()
    assert hh.sectionSize(0) >= hh.sectionSizeHint(0)  # "Date" is not cut
    assert hh.sectionSize(0) < 120 and hh.sectionSize(1) > 300


def test_the_stats_line_counts_in_the_singular_for_one() -> None:
    from notebooklm_local.ui.studio.extract import _count

    assert _count(1, "dated event") == "1 dated event" and _count(1, "row") == "1 row"
    assert _count(12, "row") == "12 rows" and _count(0, "card") == "0 cards"
