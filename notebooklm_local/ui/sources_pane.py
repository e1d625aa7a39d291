"""The Sources pane: the notebook's sources with their state; checkboxes choose what chat and studio use.

Sources are added from the Add menu (files, a folder, web pages, YouTube videos, pasted text) or by
dropping files, folders and links anywhere on the window. Each row shows its state: a progress bar
with the time left while it is indexed (Cancel), the reason when it failed (Retry), or its size when it
is ready. The work itself runs in :class:`~notebooklm_local.ui.ingest.IngestController` on the lanes.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QItemSelectionModel,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    QUrl,
    Signal,
    Slot,
)
from PySide6.QtGui import (
    QAction,
    QDesktopServices,
    QFont,
    QFontMetrics,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionButton,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from notebooklm_local.core.documents import SourceRef
from notebooklm_local.core.library import Library, Source, SourceStatus
from notebooklm_local.ui.add_source_dialogs import AddUrlDialog, PasteTextDialog
from notebooklm_local.ui.errors import guard_none_refcount
from notebooklm_local.ui.ingest import IngestController, LiveState
from notebooklm_local.ui.prompts import ask_text
from notebooklm_local.ui.theme import color, css

__all__ = ["SourcesPane", "items_from_mime", "items_from_text"]

log = logging.getLogger(__name__)
_TEXT_FILE_NAMES = ("README", "NEWS", "FAQ", "TODO", "INSTALL", "CHANGES", "ChangeLog", "AUTHORS", "COPYING",
                   "LICENSE", "THANKS", "BUGS", "HACKING", "NOTICE")

_KIND_LABEL = {
    "pdf": "PDF", "markdown": "Markdown", "text": "Text", "web": "Web page", "html": "HTML", "youtube": "YouTube",
    "transcript": "Transcript", "paste": "Pasted text",
}
_STAGE = {
    SourceStatus.QUEUED: "before reading", SourceStatus.EXTRACTED: "after reading",
    SourceStatus.CHUNKED: "while embedding", SourceStatus.EMBEDDED: "while embedding",
}
_URL_IN_TEXT = re.compile(r"(?:https?://|www\.)[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING_PUNCT = ".,;:!?)]}>'\""
MAX_NOTICES = 6

# item data roles of a row (the display text stays "title\ndetail", for tests and screen readers)
TITLE_ROLE = Qt.ItemDataRole.UserRole + 1
DETAIL_ROLE = Qt.ItemDataRole.UserRole + 2
STATE_ROLE = Qt.ItemDataRole.UserRole + 3  # "ready", "failed", "running", "waiting", "unfinished"
FRACTION_ROLE = Qt.ItemDataRole.UserRole + 4  # float 0..1 while being indexed, else None
ACTION_ROLE = Qt.ItemDataRole.UserRole + 5  # "retry", "cancel", "resume" or None


def items_from_text(text: str) -> list[str]:
    """URLs and existing local paths in a dropped or pasted text; [] when there is neither."""
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip().strip("\"'")
        if not line:
            continue
        if line.lower().startswith("file://"):
            path = QUrl(line).toLocalFile()
            if path and Path(path).exists():
                out.append(path)
            continue
        p = Path(line).expanduser()
        try:
            exists = p.is_absolute() and p.exists()
        except OSError:
            exists = False
        if exists:
            out.append(str(p))
            continue
        for m in _URL_IN_TEXT.finditer(line):
            url = m.group(0).rstrip(_TRAILING_PUNCT)
            out.append(url if "://" in url else "https://" + url)
    return list(dict.fromkeys(out))


def items_from_mime(mime: QMimeData) -> list[str]:
    """Files, folders and web links carried by a drag (``text/uri-list``, else plain text)."""
    out: list[str] = []
    if mime.hasUrls():
        for url in mime.urls():
            if url.isLocalFile():
                out.append(url.toLocalFile())
            elif url.scheme().lower() in ("http", "https"):
                out.append(url.toString())
    if not out and mime.hasText():
        out = items_from_text(mime.text())
    return list(dict.fromkeys(out))


def _title_of(s: Source) -> str:
    if s.title:
        return s.title
    if "path" in s.ref:
        return Path(s.ref["path"]).name
    return s.ref.get("url") or s.id


def _size_of(s: Source) -> str:
    """What a reader measures a source in: pages (PDF), duration (transcripts), else words or passages."""
    meta = s.meta or {}
    pages = meta.get("pages")
    if isinstance(pages, int) and pages > 0:
        return f"{pages} page{'s' if pages != 1 else ''}"
    duration = meta.get("duration")
    if isinstance(duration, (int, float)) and duration > 0:
        m, sec = divmod(int(round(duration)), 60)
        return f"{m // 60}:{m % 60:02d}:{sec:02d}" if m >= 60 else f"{m}:{sec:02d}"
    return f"{s.n_chunks} passage{'s' if s.n_chunks != 1 else ''}"


def _row(s: Source, live: LiveState | None) -> dict[int, Any]:
    """Everything a row shows, as item data."""
    kind = _KIND_LABEL.get(s.kind, s.kind)
    if live is not None:
        state = "running" if live.running else "waiting"
        detail, action, mark = live.text, "cancel", "… "
        fraction = live.fraction if live.running else None  # a bar only for the one being indexed
    elif s.status == SourceStatus.READY:
        detail = " · ".join(p for p in (kind, _size_of(s)) if p)
        if s.flags:
            detail += f" · ⚑ {s.flags[0]}" + (f" (+{len(s.flags) - 1})" if len(s.flags) > 1 else "")
        state, fraction, action, mark = "ready", None, None, ""
    elif s.status == SourceStatus.FAILED:
        detail = f"{kind + ' · ' if kind else ''}failed: {s.error or 'unknown error'}"
        state, fraction, action, mark = "failed", None, "retry", "⚠ "
    else:
        detail = f"Not finished (stopped {_STAGE.get(s.status, s.status)})"
        state, fraction, action, mark = "unfinished", None, "resume", "… "
    title = _title_of(s)
    tip = [title, s.ref.get("path") or s.ref.get("url") or ""]
    if s.status == SourceStatus.FAILED and s.error and live is None:
        tip.append(f"Failed: {s.error}")
    tip += s.flags
    return {
        Qt.ItemDataRole.DisplayRole: f"{mark}{title}\n{detail}",
        Qt.ItemDataRole.ToolTipRole: "\n".join(t for t in tip if t),
        Qt.ItemDataRole.AccessibleTextRole: f"{title}: {detail}",
        TITLE_ROLE: title,
        DETAIL_ROLE: detail,
        STATE_ROLE: state,
        FRACTION_ROLE: fraction,
        ACTION_ROLE: action,
    }


_ACTION_TEXT = {"retry": "Retry", "cancel": "Cancel", "resume": "Resume"}


class SourceDelegate(QStyledItemDelegate):
    """Paints a source row: checkbox, title, state line (wrapped when it is an error), progress bar and an
    action button (Retry / Cancel / Resume); clicks on the checkbox and the button are handled here.

    Signals:
        action_clicked(str, str): source id, action.
    """

    action_clicked = Signal(str, str)
    PAD = 6
    GAP = 8
    BAR_H = 6
    MAX_DETAIL_LINES = 3

    def __init__(self, view: QListView) -> None:
        super().__init__(view)
        self.view = view
        self._pressed: QPersistentModelIndex | None = None

    # -- geometry ----------------------------------------------------------------------------------

    def _bold(self, option: QStyleOptionViewItem) -> QFont:
        f = QFont(option.font)
        f.setBold(True)
        return f

    def check_rect_of(self, option: QStyleOptionViewItem) -> QRect:
        style = self.view.style()
        w = style.pixelMetric(QStyle.PixelMetric.PM_IndicatorWidth, None, self.view)
        h = style.pixelMetric(QStyle.PixelMetric.PM_IndicatorHeight, None, self.view)
        line = QFontMetrics(self._bold(option)).height()
        return QRect(option.rect.left() + self.PAD, option.rect.top() + self.PAD + (line - h) // 2, w, h)

    def button_rect(self, option: QStyleOptionViewItem, action: str | None) -> QRect:
        if not action:
            return QRect()
        fm = option.fontMetrics
        w = fm.horizontalAdvance(_ACTION_TEXT[action]) + 18
        h = fm.height() + 6
        return QRect(option.rect.right() - self.PAD - w, option.rect.top() + self.PAD - 2, w, h)

    def _text_left(self, option: QStyleOptionViewItem) -> int:
        return self.check_rect_of(option).right() + self.GAP

    def _detail_lines(self, option: QStyleOptionViewItem, index: QModelIndex, width: int) -> list[str]:
        fm = option.fontMetrics
        text = index.data(DETAIL_ROLE) or ""
        if index.data(STATE_ROLE) != "failed":
            return [fm.elidedText(text, Qt.TextElideMode.ElideRight, width)]
        return _wrap("⚠ " + text, fm, width, self.MAX_DETAIL_LINES)

    def _title_lines(self, option: QStyleOptionViewItem, index: QModelIndex) -> list[str]:
        """The title in bold, wrapped to two lines at most (left of the action button)."""
        title = index.data(TITLE_ROLE) or ""
        action = index.data(ACTION_ROLE)
        right = (self.button_rect(option, action).left() - self.GAP) if action else (option.rect.right() - self.PAD)
        return _wrap(title, QFontMetrics(self._bold(option)), max(40, right - self._text_left(option)), 2)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:  # noqa: N802 - Qt override
        opt = QStyleOptionViewItem(option)
        width = self.view.viewport().width()
        opt.rect = QRect(0, 0, width, 100)
        left = self._text_left(opt)
        detail_w = max(40, width - left - self.PAD)
        lines = len(self._detail_lines(opt, index, detail_w))
        fm = opt.fontMetrics
        titles = len(self._title_lines(opt, index))
        h = self.PAD + titles * QFontMetrics(self._bold(opt)).lineSpacing() + 3 + lines * fm.lineSpacing()
        if index.data(FRACTION_ROLE) is not None:
            h += 4 + self.BAR_H
        button = self.button_rect(opt, index.data(ACTION_ROLE))
        h = max(h, button.height() + self.PAD) + self.PAD
        return QSize(width, h)

    # -- painting ----------------------------------------------------------------------------------

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        widget = self.view
        style = widget.style()
        painter.save()
        opt.text = ""
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, opt, painter, widget)

        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        group = QPalette.ColorGroup.Normal if opt.state & QStyle.StateFlag.State_Active else QPalette.ColorGroup.Inactive
        text_color = opt.palette.color(group, QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        state = index.data(STATE_ROLE)

        check = QStyleOptionViewItem(opt)
        check.rect = self.check_rect_of(opt)
        check.state = check.state & ~QStyle.StateFlag.State_HasFocus
        checked = _is_checked(index)
        check.checkState = Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
        check.state |= QStyle.StateFlag.State_On if checked else QStyle.StateFlag.State_Off
        style.drawPrimitive(QStyle.PrimitiveElement.PE_IndicatorItemViewItemCheck, check, painter, widget)
        if opt.palette.color(QPalette.ColorRole.Base).lightness() < 128:
            # dark: Fusion outlines the box in the window colour darkened, as dark as the row itself; an empty
            # box was invisible (contrast 1.03:1). Outlined in the placeholder colour (>= 3:1 on the row).
            painter.save()
            painter.setPen(QPen(opt.palette.color(QPalette.ColorRole.PlaceholderText), 1))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(check.rect.adjusted(0, 0, -1, -1))
            painter.restore()

        action = index.data(ACTION_ROLE)
        button = self.button_rect(opt, action)
        left = self._text_left(opt)
        right = (button.left() - self.GAP) if action else (opt.rect.right() - self.PAD)
        bold = self._bold(opt)
        bfm = QFontMetrics(bold)
        y = opt.rect.top() + self.PAD
        painter.setFont(bold)
        painter.setPen(text_color)
        for line in self._title_lines(opt, index):
            painter.drawText(QRect(left, y, right - left, bfm.height()),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, line)
            y += bfm.lineSpacing()
        y += 3

        painter.setFont(opt.font)
        fm = opt.fontMetrics
        if selected:
            painter.setPen(text_color)
        elif state == "failed":
            painter.setPen(color("error"))
        elif state in ("running", "waiting", "unfinished"):
            painter.setPen(text_color)
        else:
            painter.setPen(opt.palette.color(group, QPalette.ColorRole.PlaceholderText))
        detail_right = opt.rect.right() - self.PAD
        for line in self._detail_lines(opt, index, detail_right - left):
            painter.drawText(QRect(left, y, detail_right - left, fm.height()),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, line)
            y += fm.lineSpacing()

        fraction = index.data(FRACTION_ROLE)
        if fraction is not None:
            bar = QStyleOptionProgressBar()
            bar.rect = QRect(left, y + 4, detail_right - left, self.BAR_H)
            bar.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Horizontal
            bar.direction = opt.direction
            bar.palette = opt.palette
            bar.fontMetrics = fm
            bar.minimum, bar.maximum = 0, 1000
            bar.progress = int(max(0.0, min(1.0, float(fraction))) * 1000)
            bar.textVisible = False
            style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, widget)

        if action:
            b = QStyleOptionButton()
            b.rect = button
            b.text = _ACTION_TEXT[action]
            b.palette = opt.palette
            b.fontMetrics = fm
            b.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Raised
            if self._pressed is not None and self._pressed == QPersistentModelIndex(index):
                b.state |= QStyle.StateFlag.State_Sunken
            style.drawControl(QStyle.ControlElement.CE_PushButton, b, painter, widget)
        painter.restore()

    # -- clicks --------------------------------------------------------------------------------------

    def editorEvent(  # noqa: N802 - Qt override
        self, event: QEvent, model: QAbstractItemModel, option: QStyleOptionViewItem, index: QModelIndex
    ) -> bool:
        etype = event.type()
        if etype in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease, QEvent.Type.MouseButtonDblClick):
            assert isinstance(event, QMouseEvent)
            if event.button() != Qt.MouseButton.LeftButton:
                return False
            pos = event.position().toPoint()
            button = self.button_rect(option, index.data(ACTION_ROLE))
            if button.contains(pos):
                if etype == QEvent.Type.MouseButtonPress:
                    self._pressed = QPersistentModelIndex(index)
                elif etype == QEvent.Type.MouseButtonRelease:
                    self._pressed = None
                    self.action_clicked.emit(index.data(Qt.ItemDataRole.UserRole), index.data(ACTION_ROLE))
                self.view.viewport().update(option.rect)
                return True
            if self.check_rect_of(option).adjusted(-3, -3, 3, 3).contains(pos):
                if etype == QEvent.Type.MouseButtonRelease:
                    self._toggle(model, index)
                return True
            if etype == QEvent.Type.MouseButtonRelease and self._pressed is not None:
                self._pressed = None
                self.view.viewport().update()
            return False
        if etype == QEvent.Type.KeyPress:
            key = event.key()  # type: ignore[attr-defined]
            if key in (Qt.Key.Key_Space, Qt.Key.Key_Select):
                self._toggle(model, index)
                return True
        return False

    def _toggle(self, model: QAbstractItemModel, index: QModelIndex) -> None:
        checked = _is_checked(index)
        model.setData(index, Qt.CheckState.Unchecked if checked else Qt.CheckState.Checked,
                      Qt.ItemDataRole.CheckStateRole)


def _is_checked(index: QModelIndex) -> bool:
    value = index.data(Qt.ItemDataRole.CheckStateRole)
    return value == Qt.CheckState.Checked or value == Qt.CheckState.Checked.value


def _wrap(text: str, fm: QFontMetrics, width: int, max_lines: int) -> list[str]:
    """Word-wrap ``text`` to ``width`` pixels, at most ``max_lines`` lines (the last one elided)."""
    words = text.split()
    lines: list[str] = []
    cur = ""
    for i, w in enumerate(words):
        trial = f"{cur} {w}" if cur else w
        if fm.horizontalAdvance(trial) <= width or not cur:
            cur = trial
            continue
        lines.append(cur)
        cur = w
        if len(lines) == max_lines - 1:
            cur = " ".join(words[i:])
            break
    if cur:
        lines.append(cur)
    return [fm.elidedText(ln, Qt.TextElideMode.ElideRight, width) for ln in lines[:max_lines]]


class _SourceList(QListWidget):
    """The list, with a hint painted in it while it is empty."""

    def __init__(self) -> None:
        super().__init__()
        self.placeholder = ""

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        super().paintEvent(event)
        if self.count() == 0 and self.placeholder:
            p = QPainter(self.viewport())
            p.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            p.drawText(self.viewport().rect().adjusted(24, 24, -24, -24),
                       Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
            p.end()


class SourcesPane(QWidget):
    """Lists the current notebook's sources and adds, re-indexes, renames and removes them.

    Signals:
        selection_changed(list): ids of the sources checked for chat and studio.
        open_requested(str): the user wants to read a source (the window opens the viewer).
        create_notebook_requested(): the empty state's "Create a notebook" button.
        notice_posted(str): a message worth the status bar too (not added, duplicate, failed).
    """

    selection_changed = Signal(list)
    open_requested = Signal(str)
    create_notebook_requested = Signal()
    notice_posted = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, ingest: IngestController | None = None) -> None:
        guard_none_refcount()  # the delegate makes many void calls per repaint (see ui.errors)
        super().__init__(parent)
        self.setObjectName("sources-pane")
        self.setAccessibleName("Sources")
        self._library: Library | None = None
        self._notebook_id: str | None = None
        self._sources: dict[str, Source] = {}
        self._checked: dict[str, bool] = {}
        self._notices: list[str] = []
        self.ingest: IngestController | None = None
        self.url_dialog: AddUrlDialog | None = None
        self.paste_dialog: PasteTextDialog | None = None
        self._extensions: list[str] | None = None
        self.loaders_getter: Callable[[], Sequence[Any]] | None = None  # the registry's loaders (plugins too)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        header = QHBoxLayout()
        self.title = QLabel("<b>Sources</b>")
        header.addWidget(self.title, 1)
        self._build_actions()
        self.add_button = QToolButton()
        self.add_button.setObjectName("sources-add")
        self.add_button.setText("+ Add")
        self.add_button.setAccessibleName("Add sources")
        self.add_button.setToolTip("Add files, a folder, web pages, YouTube videos or pasted text "
                                   "(or drop them anywhere on the window)")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.add_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.add_menu = QMenu(self.add_button)
        for a in self.add_actions:
            self.add_menu.addAction(a)
        self.add_button.setMenu(self.add_menu)
        header.addWidget(self.add_button)
        layout.addLayout(header)

        select_row = QHBoxLayout()
        select_row.setSpacing(2)
        self.select_all_button = self._link_button("Select all", "sources-select-all", self.select_all)
        self.select_none_button = self._link_button("None", "sources-select-none", self.select_none)
        self.select_none_button.setAccessibleName("Select no sources")
        select_row.addWidget(self.select_all_button)
        select_row.addWidget(self.select_none_button)
        select_row.addStretch(1)
        layout.addLayout(select_row)

        self.list = _SourceList()
        self.list.setObjectName("sources-list")
        self.list.setAccessibleName("Sources of this notebook")
        self.list.setAlternatingRowColors(True)
        self.list.setWordWrap(True)
        self.list.setMouseTracking(True)
        self.list.setUniformItemSizes(False)
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.delegate = SourceDelegate(self.list)
        self.list.setItemDelegate(self.delegate)
        self.delegate.action_clicked.connect(self._on_delegate_action_clicked)
        self.list.itemChanged.connect(self._on_list_item_changed)
        self.list.itemActivated.connect(self._on_list_item_activated)
        self.list.customContextMenuRequested.connect(self._on_list_context_menu)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.list)
        self.empty_page = QWidget()
        self.empty_page.setObjectName("sources-empty")
        empty = QVBoxLayout(self.empty_page)
        empty.addStretch(1)
        self.empty_label = QLabel("")
        self.empty_label.setObjectName("sources-empty-text")
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        empty.addWidget(self.empty_label)
        self.create_button = QPushButton("Create a notebook…")
        self.create_button.setObjectName("sources-create-notebook")
        self.create_button.setAccessibleName("Create a notebook")
        self.create_button.clicked.connect(self.create_notebook_requested)
        empty.addWidget(self.create_button, 0, Qt.AlignmentFlag.AlignHCenter)
        empty.addStretch(2)
        self.stack.addWidget(self.empty_page)
        layout.addWidget(self.stack, 1)

        self.notice_frame = QFrame()
        self.notice_frame.setObjectName("sources-notices")
        self.notice_frame.setFrameShape(QFrame.Shape.StyledPanel)
        self.notice_frame.setStyleSheet(f"#sources-notices {{ background: {css('notice_bg')}; border: 1px solid "
                                        f"{css('notice_border')}; border-radius: 4px; }} "
                                        f"#sources-notices QLabel {{ color: {css('notice_fg')}; }}")
        notice_row = QHBoxLayout(self.notice_frame)
        notice_row.setContentsMargins(6, 4, 4, 4)
        self.notice_label = QLabel("")
        self.notice_label.setObjectName("sources-notice-text")
        self.notice_label.setAccessibleName("Messages about adding sources")
        self.notice_label.setWordWrap(True)
        self.notice_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        notice_row.addWidget(self.notice_label, 1)
        self.notice_close = QToolButton()
        self.notice_close.setText("✕")
        self.notice_close.setAutoRaise(True)
        self.notice_close.setAccessibleName("Dismiss the messages")
        self.notice_close.clicked.connect(self.clear_notices)
        notice_row.addWidget(self.notice_close, 0, Qt.AlignmentFlag.AlignTop)
        self.notice_frame.hide()
        layout.addWidget(self.notice_frame)

        self.summary = QLabel("")
        self.summary.setObjectName("sources-summary")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        if ingest is not None:
            self.set_ingest(ingest)
        self.show_empty("Loading…")

    def _link_button(self, text: str, name: str, slot: Any) -> QToolButton:
        b = QToolButton()
        b.setText(text)
        b.setObjectName(name)
        b.setAccessibleName(text)
        b.setAutoRaise(True)
        b.clicked.connect(slot)
        return b

    def _build_actions(self) -> None:
        def action(text: str, slot: Any, name: str, shortcut: str | None = None, tip: str = "") -> QAction:
            a = QAction(text, self)
            a.setObjectName(name)
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
            a.setToolTip(tip or text.rstrip("…"))
            a.setStatusTip(tip)
            a.triggered.connect(slot)
            return a

        self.add_files_action = action("Add &files…", self.add_files_dialog, "add-files", "Ctrl+O",
                                       "Add PDF, Markdown, text, HTML or transcript files")
        self.add_folder_action = action("Add f&older…", self.add_folder_dialog, "add-folder", None,
                                        "Add every supported file in a folder and its subfolders")
        self.add_url_action = action("Add &web page…", self.add_url_dialog, "add-url", "Ctrl+L",
                                     "Add a web page by its address")
        self.add_youtube_action = action("Add &YouTube video…", self.add_youtube_dialog, "add-youtube", None,
                                         "Add a YouTube video's captions")
        self.paste_text_action = action("&Paste text…", self.paste_text_dialog, "paste-text", "Ctrl+Shift+V",
                                        "Add text you paste or type")
        self.add_actions = [self.add_files_action, self.add_folder_action, self.add_url_action,
                            self.add_youtube_action, self.paste_text_action]
        self.select_all_action = action("Select &all sources", self.select_all, "select-all-sources")
        self.select_none_action = action("Select &no sources", self.select_none, "select-no-sources")
        self.resume_action = action("&Resume unfinished sources", self.resume_unfinished, "resume-sources", None,
                                    "Finish indexing the sources that were interrupted")
        self.remove_action = action("&Remove…", self.remove_highlighted, "remove-sources", "Delete")
        self.remove_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.rename_action = action("Re&name…", self.rename_current, "rename-source", "F2")
        self.rename_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.addAction(self.remove_action)
        self.addAction(self.rename_action)

    # -- wiring ------------------------------------------------------------------------------------

    def set_ingest(self, ingest: IngestController) -> None:
        self.ingest = ingest
        ingest.state_changed.connect(self._on_ingest_state_changed)
        ingest.sources_changed.connect(self._on_ingest_sources_changed)
        ingest.notice.connect(self.post_notice)
        ingest.source_finished.connect(self._on_ingest_source_finished)

    @property
    def notebook_id(self) -> str | None:
        return self._notebook_id

    # -- showing -----------------------------------------------------------------------------------

    def show_empty(self, text: str, *, offer_create: bool = False) -> None:
        """No notebook to show: a message, and the "Create a notebook" button when ``offer_create``."""
        self._notebook_id = None
        self._sources = {}
        self._checked = {}
        self.list.clear()
        self.list.placeholder = ""
        if offer_create:
            self.empty_label.setText(text)
            self.summary.setText("")
            self.stack.setCurrentWidget(self.empty_page)
        else:
            self.summary.setText(text)
            self.stack.setCurrentWidget(self.list)
        self._update_enabled()

    def set_sources(self, library: Library, sources: list[Source], notebook_id: str | None = None) -> None:
        self._library = library
        if notebook_id is None and sources:
            notebook_id = sources[0].notebook_id
        if notebook_id != self._notebook_id:
            self.clear_notices()
        self._notebook_id = notebook_id
        self.stack.setCurrentWidget(self.list)
        highlighted = {i.data(Qt.ItemDataRole.UserRole) for i in self.list.selectedItems()}
        current = self.list.currentItem().data(Qt.ItemDataRole.UserRole) if self.list.currentItem() else None
        scroll = self.list.verticalScrollBar().value()
        self._sources = {s.id: s for s in sources}
        self._checked = {s.id: s.selected for s in sources}
        self.list.blockSignals(True)
        self.list.clear()
        for s in sources:
            item = QListWidgetItem()
            item.setData(Qt.ItemDataRole.UserRole, s.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if s.selected else Qt.CheckState.Unchecked)
            self._fill(item, s)
            self.list.addItem(item)
            if s.id in highlighted:
                item.setSelected(True)
            if s.id == current:
                self.list.setCurrentItem(item, QItemSelectionModel.SelectionFlag.NoUpdate)
        self.list.blockSignals(False)
        self.list.verticalScrollBar().setValue(scroll)
        self._update_summary()
        self._update_enabled()

    def reload(self) -> None:
        """Read the notebook's sources again (after adding, removing or finishing one)."""
        if self._library is None or self._notebook_id is None:
            return
        try:
            sources = self._library.sources(self._notebook_id)
        except Exception as e:  # noqa: BLE001 - a closed or deleted library: say so, never crash
            log.debug("reload failed: %s", e)
            return
        self.set_sources(self._library, sources, self._notebook_id)
        self.selection_changed.emit(self.selected_ids())

    def _fill(self, item: QListWidgetItem, s: Source) -> None:
        live = self.ingest.live(s.id) if self.ingest is not None else None
        for role, value in _row(s, live).items():
            item.setData(role, value)

    def _item(self, source_id: str) -> QListWidgetItem | None:
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(Qt.ItemDataRole.UserRole) == source_id:
                return item
        return None

    def _item_option(self, item: QListWidgetItem) -> QStyleOptionViewItem:
        opt = QStyleOptionViewItem()
        opt.initFrom(self.list.viewport())
        opt.rect = self.list.visualItemRect(item)
        opt.font = self.list.font()
        opt.fontMetrics = QFontMetrics(opt.font)
        return opt

    def button_rect(self, source_id: str) -> QRect:
        """Where a row's Retry / Cancel / Resume button is, in viewport coordinates (empty if none)."""
        item = self._item(source_id)
        if item is None:
            return QRect()
        return self.delegate.button_rect(self._item_option(item), item.data(ACTION_ROLE))

    def check_rect(self, source_id: str) -> QRect:
        """Where a row's checkbox is, in viewport coordinates."""
        item = self._item(source_id)
        return QRect() if item is None else self.delegate.check_rect_of(self._item_option(item))

    def row_state(self, source_id: str) -> tuple[str, str, str | None]:
        """(state, detail text, action) of a row: what it shows."""
        item = self._item(source_id)
        if item is None:
            return "", "", None
        return item.data(STATE_ROLE), item.data(DETAIL_ROLE), item.data(ACTION_ROLE)

    def _update_summary(self) -> None:
        srcs = list(self._sources.values())
        if self._notebook_id is None:
            return
        if not srcs:
            self.list.placeholder = ("No sources yet.\n\nUse + Add, or drop files, folders or web links anywhere on "
                                     "this window.")
            self.summary.setText("No sources yet.")
            self.list.viewport().update()
            return
        self.list.placeholder = ""
        ready = sum(1 for s in srcs if s.status == SourceStatus.READY)
        failed = sum(1 for s in srcs if s.status == SourceStatus.FAILED)
        parts = [f"{len(srcs)} source{'s' if len(srcs) != 1 else ''}", f"{ready} ready"]
        if failed:
            parts.append(f"{failed} failed")
        parts.append(f"{len(self.selected_ids())} selected")
        self.summary.setText(", ".join(parts))

    def _update_enabled(self) -> None:
        has_nb = self._notebook_id is not None and self.ingest is not None
        for a in self.add_actions:
            a.setEnabled(has_nb)
        self.add_button.setEnabled(has_nb)
        has_rows = self.list.count() > 0
        for w in (self.select_all_button, self.select_none_button):
            w.setEnabled(has_rows)
        self.select_all_action.setEnabled(has_rows)
        self.select_none_action.setEnabled(has_rows)
        self.resume_action.setEnabled(has_nb and any(
            s.status not in (SourceStatus.READY, SourceStatus.FAILED) for s in self._sources.values()))

    # -- selection (checkboxes) --------------------------------------------------------------------

    def selected_ids(self) -> list[str]:
        return [
            self.list.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.list.count())
            if self.list.item(i).checkState() == Qt.CheckState.Checked
        ]

    @Slot()
    def select_all(self) -> None:
        self._set_all_checked(True)

    @Slot()
    def select_none(self) -> None:
        self._set_all_checked(False)

    def _set_all_checked(self, on: bool) -> None:
        state = Qt.CheckState.Checked if on else Qt.CheckState.Unchecked
        changed = []
        self.list.blockSignals(True)
        for i in range(self.list.count()):
            item = self.list.item(i)
            sid = item.data(Qt.ItemDataRole.UserRole)
            if item.checkState() != state:
                item.setCheckState(state)
                changed.append(sid)
            self._checked[sid] = on
        self.list.blockSignals(False)
        if self._library is not None:
            for sid in changed:
                self._library.update_source(sid, selected=int(on))
                if sid in self._sources:
                    self._sources[sid].selected = on
        self._update_summary()
        self.selection_changed.emit(self.selected_ids())

    @Slot(QListWidgetItem)
    def _on_list_item_changed(self, item: QListWidgetItem) -> None:
        sid = item.data(Qt.ItemDataRole.UserRole)
        checked = item.checkState() == Qt.CheckState.Checked
        if not sid or self._checked.get(sid) == checked:
            return  # another role changed (progress), not the checkbox
        self._checked[sid] = checked
        if self._library is not None:
            self._library.update_source(sid, selected=int(checked))
        if sid in self._sources:
            self._sources[sid].selected = checked
        self._update_summary()
        self.selection_changed.emit(self.selected_ids())

    # -- adding ------------------------------------------------------------------------------------

    def add_items(self, items: Sequence[str | SourceRef]) -> bool:
        """Add files, folders, URLs or refs to the current notebook (checked and indexed on the lanes)."""
        if not items:
            return False
        if self._notebook_id is None or self.ingest is None:
            self.post_notice("Create or open a notebook first, then add sources to it.")
            return False
        self.ingest.add(self._notebook_id, list(items))
        return True

    def handle_drop(self, mime: QMimeData) -> bool:
        """Add what a drag carries; a text with nothing to add gets a message, not a crash."""
        items = items_from_mime(mime)
        if items:
            return self.add_items(items)
        text = mime.text().strip() if mime.hasText() else ""
        shown = (text[:60] + "…") if len(text) > 60 else text
        if text:
            self.post_notice(f"Not added: “{shown}” is not a web address, file or folder.")
        else:
            self.post_notice("Not added: the drop carried no files, folders or web addresses.")
        return False

    def _file_filter(self) -> str:
        """The file dialog's filter: every extension a loader (built-in or plugin) reads."""
        if self.loaders_getter is not None:
            try:
                self._extensions = sorted({e for ld in self.loaders_getter() for e in ld.extensions})
            except Exception as e:  # noqa: BLE001 - a broken plugin: fall back to the built-ins
                log.warning("could not list the source loaders: %s", e)
        if self._extensions is None:
            from notebooklm_local.extensions.builtins import builtin_registry

            exts = {e for ld in builtin_registry().source_loaders.items() for e in ld.extensions}
            self._extensions = sorted(exts)
        # files with no extension are read as plain text when they hold text: the usual names are listed
        # (any other is added from "All files")
        names = " ".join(_TEXT_FILE_NAMES)
        pattern = " ".join(f"*{e}" for e in self._extensions)
        return (f"Supported files ({pattern} {names});;PDF (*.pdf);;Text and Markdown (*.txt *.md *.markdown "
                f"{names});;All files (*)")

    @Slot()
    def add_files_dialog(self) -> None:
        if not self._can_add():
            return
        files, _ = QFileDialog.getOpenFileNames(self, "Add files", str(Path.home()), self._file_filter())
        if files:
            self.add_items(files)

    @Slot()
    def add_folder_dialog(self) -> None:
        if not self._can_add():
            return
        folder = QFileDialog.getExistingDirectory(self, "Add a folder", str(Path.home()))
        if folder:
            self.add_items([folder])

    @Slot()
    def add_url_dialog(self) -> None:
        self._open_url_dialog("web")

    @Slot()
    def add_youtube_dialog(self) -> None:
        self._open_url_dialog("youtube")

    def _open_url_dialog(self, kind: str) -> None:
        if not self._can_add():
            return
        dlg = AddUrlDialog(kind, self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.accepted.connect(self._on_url_dialog_accepted)
        self.url_dialog = dlg
        dlg.open()

    @Slot()
    def _on_url_dialog_accepted(self) -> None:
        dlg = self.url_dialog
        if dlg is not None:
            self.add_items(dlg.urls())

    @Slot()
    def paste_text_dialog(self) -> None:
        if not self._can_add():
            return
        dlg = PasteTextDialog(self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.accepted.connect(self._on_paste_dialog_accepted)
        self.paste_dialog = dlg
        dlg.open()

    @Slot()
    def _on_paste_dialog_accepted(self) -> None:
        dlg = self.paste_dialog
        if dlg is not None and dlg.text().strip():
            self.add_items([SourceRef(text=dlg.text(), title=dlg.title())])

    def _can_add(self) -> bool:
        if self._notebook_id is None or self.ingest is None:
            self.post_notice("Create or open a notebook first, then add sources to it.")
            return False
        return True

    # -- per-source actions --------------------------------------------------------------------------

    def _label(self, sid: str) -> str:
        s = self._sources.get(sid)
        return _title_of(s) if s is not None else sid

    def retry(self, source_id: str) -> None:
        """Retry a failed source or finish an interrupted one."""
        if self.ingest is not None and self._notebook_id is not None:
            self.ingest.process(self._notebook_id, source_id, self._label(source_id))

    def cancel(self, source_id: str) -> None:
        if self.ingest is not None:
            self.ingest.cancel(source_id)

    def reindex(self, source_ids: Sequence[str]) -> None:
        if self.ingest is not None and self._notebook_id is not None:
            for sid in source_ids:
                self.ingest.reindex(self._notebook_id, sid, self._label(sid))

    @Slot()
    def resume_unfinished(self) -> None:
        for s in self._sources.values():
            if s.status not in (SourceStatus.READY, SourceStatus.FAILED):
                self.retry(s.id)

    def highlighted_ids(self) -> list[str]:
        """The rows highlighted (clicked, shift-/ctrl-clicked), in list order; the current row if none."""
        ids = [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())
               if self.list.item(i).isSelected()]
        if not ids and self.list.currentItem() is not None:
            ids = [self.list.currentItem().data(Qt.ItemDataRole.UserRole)]
        return ids

    @Slot()
    def remove_highlighted(self) -> None:
        ids = self.highlighted_ids()
        if ids:
            self.remove(ids)

    def remove(self, source_ids: Sequence[str], *, confirm: bool = True) -> bool:
        """Remove sources after asking; True if removing started."""
        ids = [s for s in source_ids if s in self._sources]
        if not ids or self.ingest is None or self._notebook_id is None:
            return False
        if confirm:
            if len(ids) == 1:
                text = f"Remove “{self._label(ids[0])}” from this notebook?"
            else:
                text = f"Remove {len(ids)} sources from this notebook?"
            answer = QMessageBox.question(
                self, "Remove sources", text + "\n\nIts text and index are deleted; the original file is not touched.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return False
        for sid in ids:  # gone from the list at once; the store lane does the deleting
            item = self._item(sid)
            if item is not None:
                self.list.takeItem(self.list.row(item))
            self._sources.pop(sid, None)
            self._checked.pop(sid, None)
        self._update_summary()
        self.selection_changed.emit(self.selected_ids())
        self.ingest.remove(self._notebook_id, ids)
        return True

    @Slot()
    def rename_current(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.rename(item.data(Qt.ItemDataRole.UserRole))

    def rename(self, source_id: str, title: str | None = None) -> bool:
        """Give a source a new title (asks when ``title`` is None); the new title is saved at once."""
        s = self._sources.get(source_id)
        if s is None or self._library is None:
            return False
        if title is None:
            title, ok = ask_text(self, "Rename source", "New title:", text=_title_of(s))
            if not ok:
                return False
        title = title.strip()
        if not title or title == s.title:
            return False
        self._library.update_source(source_id, title=title[:300])
        self.reload()
        return True

    def open_source(self, source_id: str) -> None:
        self.open_requested.emit(source_id)

    def show_file(self, source_id: str) -> bool:
        """Show a file source's folder in the file manager."""
        s = self._sources.get(source_id)
        path = Path(s.ref["path"]) if s is not None and "path" in s.ref else None
        if path is None:
            return False
        target = path.parent
        if not target.exists():
            self.post_notice(f"The folder of {path.name} no longer exists ({target}).")
            return False
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(target)))

    # -- notices -----------------------------------------------------------------------------------

    @Slot(str)
    def post_notice(self, text: str) -> None:
        """Show a message under the list (the last few are kept) and pass it to the status bar."""
        self._notices.append(text)
        shown = self._notices[-MAX_NOTICES:]
        more = len(self._notices) - len(shown)
        body = "<br>".join(html.escape(t) for t in shown)
        if more:
            body = f"<i>{more} earlier message{'s' if more > 1 else ''} not shown</i><br>" + body
        self.notice_label.setText(body)
        self.notice_label.setToolTip("\n".join(self._notices[-50:]))
        self.notice_frame.show()
        self.notice_posted.emit(text)

    @Slot()
    def clear_notices(self) -> None:
        self._notices = []
        self.notice_label.setText("")
        self.notice_frame.hide()

    def notices(self) -> list[str]:
        return list(self._notices)

    # -- slots -------------------------------------------------------------------------------------

    @Slot(str)
    def _on_ingest_state_changed(self, source_id: str) -> None:
        item = self._item(source_id)
        s = self._sources.get(source_id)
        if item is None or s is None:
            return
        before = item.data(FRACTION_ROLE) is None, item.data(ACTION_ROLE)
        self.list.blockSignals(True)
        self._fill(item, s)
        self.list.blockSignals(False)
        if (item.data(FRACTION_ROLE) is None, item.data(ACTION_ROLE)) != before:
            self.list.doItemsLayout()  # the row grew or shrank (progress bar, button)

    @Slot(str)
    def _on_ingest_sources_changed(self, notebook_id: str) -> None:
        if notebook_id == self._notebook_id:
            self.reload()

    @Slot(str, str, str)
    def _on_ingest_source_finished(self, source_id: str, outcome: str, message: str) -> None:
        if outcome == "failed":  # the row has the whole reason; the status bar gets its first sentence
            first = message.split(". ", 1)[0].rstrip(".")
            self.notice_posted.emit(f"{self._label(source_id)} failed: {first}.")

    @Slot(str, str)
    def _on_delegate_action_clicked(self, source_id: str, action: str) -> None:
        if action == "cancel":
            self.cancel(source_id)
        elif action in ("retry", "resume"):
            self.retry(source_id)

    @Slot(QListWidgetItem)
    def _on_list_item_activated(self, item: QListWidgetItem) -> None:
        self.open_source(item.data(Qt.ItemDataRole.UserRole))

    @Slot(QPoint)
    def _on_list_context_menu(self, pos: QPoint) -> None:
        item = self.list.itemAt(pos)
        if item is not None and not item.isSelected():
            self.list.setCurrentItem(item)
        menu = self.context_menu(item.data(Qt.ItemDataRole.UserRole) if item is not None else None)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self.list.viewport().mapToGlobal(pos))

    def context_menu(self, source_id: str | None) -> QMenu:
        """The menu for a row (and the other highlighted rows): open, show file, rename, re-index, remove."""
        menu = QMenu(self)
        menu.setObjectName("sources-context-menu")
        ids = self.highlighted_ids() if source_id is not None else []
        if source_id is not None and source_id not in ids:
            ids = [source_id]
        s = self._sources.get(source_id) if source_id is not None else None
        if s is not None:
            live = self.ingest.live(s.id) if self.ingest is not None else None
            a = menu.addAction("&Open", lambda: self.open_source(s.id))
            a.setEnabled(s.status not in (SourceStatus.QUEUED, SourceStatus.FAILED) or bool(s.kind))
            if "path" in s.ref:
                menu.addAction("Show &file", lambda: self.show_file(s.id))
            if "url" in s.ref:
                menu.addAction("Open in &browser", lambda: QDesktopServices.openUrl(QUrl(s.ref["url"])))
            menu.addSeparator()
            if live is not None:
                menu.addAction("&Cancel", lambda: self.cancel(s.id))
            elif s.status == SourceStatus.FAILED:
                menu.addAction("Re&try", lambda: self.retry(s.id))
            elif s.status != SourceStatus.READY:
                menu.addAction("Re&sume", lambda: self.retry(s.id))
            if len(ids) == 1:
                menu.addAction(self.rename_action)
            n = f" {len(ids)} sources" if len(ids) > 1 else ""
            menu.addAction(f"Re-&index{n}", lambda: self.reindex(ids))
            menu.addSeparator()
            menu.addAction(f"&Remove{n}…", lambda: self.remove(ids))
        else:
            for a in self.add_actions:
                menu.addAction(a)
        return menu

