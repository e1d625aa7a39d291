"""The Plugins dialog: every plugin found, its state and errors; switch plugins on and off.

The dialog shows what a :class:`~notebooklm_local.extensions.manager.PluginManager` knows (bundled
plugins first, then the user's ``<data>/plugins``), in the same words as ``notebooklm-local plugins list``
and ``plugins info``: name, version, state (enabled, disabled, error, incompatible, not loaded in safe
mode) and source, and for the selected plugin its manifest, folders, what it added, its failures and the
traceback of a failed import or ``register()``. The details are selectable text; "Copy details" puts them
on the clipboard for a bug report.

Switching a plugin (the checkbox in the list or the Enable/Disable button) calls ``manager.enable`` /
``manager.disable``: the choice is saved in the settings at once, enabling loads the plugin at once (not
in safe mode) and disabling runs its ``unregister()`` and removes what it registered. Parts of the window
that are already open may keep their lists (file types, exporters, templates) until the app restarts; the
dialog says so. A plugin that fails to load, or an error saving the choice, is shown in an error dialog
(:func:`~notebooklm_local.ui.errors.show_error`) and in the list; nothing here raises. After each
switch, ``plugins_changed`` is emitted and ``on_changed`` called.

The dialog never rescans the folders (``manager.discover`` would forget the loaded plugins): plugins
copied into the folder appear after a restart.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QStyle,
    QTextBrowser,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from notebooklm_local import __version__
from notebooklm_local.extensions.api import SUPPORTED_API_VERSIONS
from notebooklm_local.extensions.manager import NO_PLUGINS_ENV, PluginInfo, PluginManager, PluginState
from notebooklm_local.ui.errors import ErrorDialog, guard_none_refcount, show_error, show_exception
from notebooklm_local.ui.theme import css

__all__ = ["PluginsDialog", "STATE_LABELS", "safe_mode_text"]

log = logging.getLogger(__name__)

STATE_LABELS = {
    PluginState.ENABLED: "Enabled",
    PluginState.DISABLED: "Disabled",
    PluginState.ERROR: "Error",
    PluginState.INCOMPATIBLE: "Incompatible",
    PluginState.DISCOVERED: "Not loaded",
    PluginState.LOADED: "Loading",
}
SUMMARY_LABELS = {
    PluginState.ENABLED: "enabled",
    PluginState.DISABLED: "disabled",
    PluginState.ERROR: "with errors",
    PluginState.INCOMPATIBLE: "incompatible",
    PluginState.DISCOVERED: "not loaded",
    PluginState.LOADED: "loading",
}
SOURCE_LABELS = {"bundled": "Bundled", "user": "User"}
COL_NAME, COL_VERSION, COL_STATE, COL_SOURCE = range(4)
INDEX_ROLE = Qt.ItemDataRole.UserRole
MAX_TRACEBACK_CHARS = 20_000
MAX_NOTICES = 10


def safe_mode_text(reason: str) -> str:
    """The banner shown in safe mode: why no plugin is loaded and how to leave safe mode."""
    if reason.startswith(NO_PLUGINS_ENV):
        how = f"To leave safe mode, unset the environment variable {NO_PLUGINS_ENV} and restart notebooklm-local."
    else:
        how = "To leave safe mode, quit and start notebooklm-local again without --safe-mode."
    return (f"<b>Safe mode is on ({html.escape(reason)}): no plugins are loaded.</b> "
            "You can still switch plugins on or off; your choices are saved and take effect the next time "
            f"the app starts without safe mode. {html.escape(how)}")


class PluginsDialog(QDialog):
    """List, inspect, enable and disable plugins (see the module docstring)."""

    plugins_changed = Signal()

    def __init__(self, manager: PluginManager, parent: QWidget | None = None, *,
                 on_changed: Callable[[], None] | None = None) -> None:
        """
        Args:
            manager: the app's plugin manager (already loaded: ``extensions.runtime.load_plugins``).
            on_changed: called (like ``plugins_changed``) after a plugin was switched on or off.
        """
        guard_none_refcount()
        super().__init__(parent)
        self.manager = manager
        self.on_changed = on_changed
        self.infos: list[PluginInfo] = manager.plugins()
        self.last_error: ErrorDialog | None = None  # the last error dialog shown (for tests)
        self._updating = False
        self.setObjectName("plugins-dialog")
        self.setWindowTitle("Plugins")
        self.setSizeGripEnabled(True)
        self.resize(920, 580)

        layout = QVBoxLayout(self)

        self.safe_mode_banner = QLabel(safe_mode_text(manager.safe_mode) if manager.safe_mode else "")
        self.safe_mode_banner.setObjectName("plugins-safe-mode-banner")
        self.safe_mode_banner.setAccessibleName("Safe mode")
        self.safe_mode_banner.setWordWrap(True)
        self.safe_mode_banner.setTextFormat(Qt.TextFormat.RichText)
        self.safe_mode_banner.setStyleSheet(
            f"QLabel#plugins-safe-mode-banner {{ background: {css('notice_bg')}; color: {css('notice_fg')}; "
            f"border: 1px solid {css('notice_border')};"
            " border-radius: 4px; padding: 8px; }")
        self.safe_mode_banner.setVisible(bool(manager.safe_mode))
        layout.addWidget(self.safe_mode_banner)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)

        self.tree = QTreeWidget()
        self.tree.setObjectName("plugins-list")
        self.tree.setAccessibleName("Plugins")
        self.tree.setAccessibleDescription("Every plugin found; the checkbox switches a plugin on or off")
        self.tree.setHeaderLabels(["Plugin", "Version", "State", "Source"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAllColumnsShowFocus(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)
        for col in (COL_VERSION, COL_STATE, COL_SOURCE):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setMinimumWidth(380)
        self.tree.setStyleSheet("QTreeWidget#plugins-list::item { padding: 3px 2px; }")
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.tree, 1)
        self.summary_label = QLabel("")
        self.summary_label.setObjectName("plugins-summary")
        self.summary_label.setAccessibleName("Plugin summary")
        self.summary_label.setWordWrap(True)
        left_layout.addWidget(self.summary_label)
        splitter.addWidget(left)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        self.details = QTextBrowser()
        self.details.setObjectName("plugins-details")
        self.details.setAccessibleName("Plugin details")
        self.details.setOpenLinks(False)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                             | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.details.setMinimumWidth(320)
        right_layout.addWidget(self.details, 1)
        row = QHBoxLayout()
        self.toggle_button = QPushButton("Enable")
        self.toggle_button.setObjectName("plugins-toggle")
        self.toggle_button.setAccessibleName("Enable or disable the selected plugin")
        self.toggle_button.clicked.connect(self._on_toggle_clicked)
        row.addWidget(self.toggle_button)
        row.addStretch(1)
        self.copy_button = QPushButton("Copy details")
        self.copy_button.setObjectName("plugins-copy-details")
        self.copy_button.setAccessibleName("Copy the selected plugin's details")
        self.copy_button.setToolTip("Copy the details of the selected plugin (for a bug report)")
        self.copy_button.clicked.connect(self._on_copy_clicked)
        row.addWidget(self.copy_button)
        right_layout.addLayout(row)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 6)
        splitter.setSizes([400, 520])
        layout.addWidget(splitter, 1)

        self.status_label = QLabel("")
        self.status_label.setObjectName("plugins-status")
        self.status_label.setAccessibleName("Result of the last change")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_label.setVisible(False)
        layout.addWidget(self.status_label)

        self.note_label = QLabel(self._note_text())
        self.note_label.setObjectName("plugins-note")
        self.note_label.setWordWrap(True)
        layout.addWidget(self.note_label)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.open_folder_button = QPushButton("Open plugins folder")
        self.open_folder_button.setObjectName("plugins-open-folder")
        self.open_folder_button.setAccessibleName("Open plugins folder")
        self.open_folder_button.setToolTip(f"Open {self.user_dir} (put your own plugin folders there)")
        self.open_folder_button.clicked.connect(self._on_open_folder_clicked)
        self.copy_debug_button = QPushButton("Copy debug info")
        self.copy_debug_button.setObjectName("plugins-copy-debug")
        self.copy_debug_button.setAccessibleName("Copy debug info for all plugins")
        self.copy_debug_button.setToolTip("Copy one line per plugin, with its state and any problem")
        self.copy_debug_button.clicked.connect(self._on_copy_debug_clicked)
        buttons.addButton(self.open_folder_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.copy_debug_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        close = buttons.button(QDialogButtonBox.StandardButton.Close)
        if close is not None:
            close.setObjectName("plugins-close")
        layout.addWidget(buttons)

        self._fill()
        self.tree.currentItemChanged.connect(self._on_current_changed)
        self.tree.itemChanged.connect(self._on_item_changed)
        if self.tree.topLevelItemCount():
            self.tree.setCurrentItem(self.tree.topLevelItem(0))
        self._show_details()

    # -- what is shown -------------------------------------------------------------------------
    @property
    def user_dir(self) -> Path:
        """The folder for the user's own plugins (the manager's "user" root)."""
        for root, source in self.manager.roots:
            if source == "user":
                return root
        return self.manager.paths.plugins

    def _note_text(self) -> str:
        if self.manager.safe_mode:
            return f"Plugins you add to {self.user_dir} appear here after a restart."
        return ("Switching a plugin on loads it at once; switching it off unloads it at once, and your choice is "
                "saved. Parts of the window that are already open (file types, exporters, templates) may show "
                f"the change only after a restart. Plugins you add to {self.user_dir} appear here after a restart.")

    def _wants_enabled(self, info: PluginInfo) -> bool:
        return info.can_toggle and info.manifest is not None and self.manager.wants_enabled(info.manifest)

    def _fill(self) -> None:
        self._updating = True
        try:
            self.tree.clear()
            for index, info in enumerate(self.infos):
                item = QTreeWidgetItem()
                item.setData(COL_NAME, INDEX_ROLE, index)
                self.tree.addTopLevelItem(item)
                self._update_item(item, info)
        finally:
            self._updating = False
        if not self.infos:
            self.tree.setToolTip(f"No plugins found. Put plugin folders in {self.user_dir}.")
        self._update_summary()

    def _update_summary(self) -> None:
        counts: dict[PluginState, int] = {}
        for info in self.infos:
            counts[info.state] = counts.get(info.state, 0) + 1
        n = len(self.infos)
        parts = [f"{counts[s]} {SUMMARY_LABELS[s]}" for s in SUMMARY_LABELS if counts.get(s)]
        self.summary_label.setText(f"{n} plugin{'s' if n != 1 else ''} found"
                                   + (": " + ", ".join(parts) if parts else "") + ".")

    def _update_item(self, item: QTreeWidgetItem, info: PluginInfo) -> None:
        was = self._updating
        self._updating = True
        try:
            flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
            if info.can_toggle:
                flags |= Qt.ItemFlag.ItemIsUserCheckable
                item.setCheckState(COL_NAME, Qt.CheckState.Checked if self._wants_enabled(info)
                                   else Qt.CheckState.Unchecked)
            else:
                item.setData(COL_NAME, Qt.ItemDataRole.CheckStateRole, None)
            item.setFlags(flags)
            item.setText(COL_NAME, info.name)
            item.setText(COL_VERSION, info.version or "\u2013")
            item.setText(COL_STATE, STATE_LABELS.get(info.state, info.state.value))
            item.setText(COL_SOURCE, SOURCE_LABELS.get(info.source, info.source))
            style = self.style()
            if info.state is PluginState.ERROR:
                icon = style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical)
            elif info.state is PluginState.INCOMPATIBLE:
                icon = style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
            else:
                icon = None
            if icon is not None:
                item.setIcon(COL_STATE, icon)
            else:
                item.setData(COL_STATE, Qt.ItemDataRole.DecorationRole, None)
            tip = f"{info.name} ({info.id}): {STATE_LABELS.get(info.state, info.state.value).lower()}"
            if info.reason:
                tip += f" \u2014 {info.reason}"
            if not info.can_toggle:
                tip += "\nThis plugin cannot be switched on or off until its problem is fixed."
            for col in range(self.tree.columnCount()):
                item.setToolTip(col, tip)
            item.setData(COL_STATE, Qt.ItemDataRole.AccessibleTextRole,
                         STATE_LABELS.get(info.state, info.state.value))
        finally:
            self._updating = was

    def current_info(self) -> PluginInfo | None:
        """The selected plugin (None when there is none)."""
        item = self.tree.currentItem()
        return self._info_of(item) if item is not None else None

    def _info_of(self, item: QTreeWidgetItem) -> PluginInfo | None:
        index = item.data(COL_NAME, INDEX_ROLE)
        return self.infos[index] if isinstance(index, int) and 0 <= index < len(self.infos) else None

    def _item_of(self, info: PluginInfo) -> QTreeWidgetItem | None:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item is not None and self._info_of(item) is info:
                return item
        return None

    def select(self, plugin_id: str) -> None:
        """Select the plugin with this id (the one that counts, for a duplicated id)."""
        matches = [i for i in self.infos if i.id == plugin_id]
        info = next((i for i in matches if i.counts), matches[0] if matches else None)
        item = self._item_of(info) if info is not None else None
        if item is not None:
            self.tree.setCurrentItem(item)

    def details_rows(self, info: PluginInfo) -> list[tuple[str, str]]:
        """The label/value rows of the details (as ``plugins info`` prints them)."""
        m = info.manifest
        rows = [("Plugin", f"{info.name} ({info.id})"), ("Version", info.version or "-"),
                ("State", STATE_LABELS.get(info.state, info.state.value))]
        if info.reason:
            rows.append(("Problem" if info.state in (PluginState.ERROR, PluginState.INCOMPATIBLE) else "Note",
                         info.reason))
        rows.append(("Source", f"{SOURCE_LABELS.get(info.source, info.source)} plugin"))
        rows.append(("Folder", str(info.path)))
        if m is not None:
            supported = ", ".join(sorted(SUPPORTED_API_VERSIONS))
            rows.append(("Plugin API", f"{', '.join(m.api)} (this app supports {supported})"))
            if m.min_app_version:
                rows.append(("Needs app", f"{m.min_app_version} or newer (this is {__version__})"))
            if m.author:
                rows.append(("Author", m.author))
            if m.homepage:
                rows.append(("Homepage", m.homepage))
            if not m.enabled_by_default:
                rows.append(("Default", "off until you enable it"))
            if m.description:
                rows.append(("Description", m.description))
        for point, names in info.contributions.items():
            rows.append((f"Adds {point.replace('_', ' ')}", ", ".join(names)))
        if info.state is PluginState.ENABLED and not info.contributions:
            rows.append(("Adds", "nothing (its register() registered no items)"))
        if m is not None and info.counts:
            rows.append(("Settings file", str(self.manager.settings_file(info.id))))
            rows.append(("Data folder", str(self.manager.data_dir(info.id))))
        return rows

    def _notices(self, info: PluginInfo) -> list[str]:
        prefix = f"{info.id}: "
        return [n[len(prefix):] for n in self.manager.notices if n.startswith(prefix)][-MAX_NOTICES:]

    def _traceback(self, info: PluginInfo) -> str:
        tb = info.traceback.rstrip()
        if len(tb) > MAX_TRACEBACK_CHARS:
            tb = "\u2026\n" + tb[-MAX_TRACEBACK_CHARS:]
        return tb

    def details_text(self, info: PluginInfo | None = None) -> str:
        """The selected plugin's details as plain text (what "Copy details" copies)."""
        info = info if info is not None else self.current_info()
        if info is None:
            return ""
        lines = [f"{label + ':':<15} {value}" for label, value in self.details_rows(info)]
        if self.manager.safe_mode:
            lines.append(f"{'Safe mode:':<15} on ({self.manager.safe_mode}): plugins are listed but not loaded")
        if info.runtime_errors:
            lines += ["", "Failures while running:"] + [f"  ! {e}" for e in info.runtime_errors]
        notices = self._notices(info)
        if notices:
            lines += ["", "Messages:"] + [f"  {n}" for n in notices]
        tb = self._traceback(info)
        if tb:
            lines += ["", tb]
        lines += ["", f"notebooklm-local {__version__}"]
        return "\n".join(lines) + "\n"

    def _details_html(self, info: PluginInfo) -> str:
        esc = html.escape
        state = STATE_LABELS.get(info.state, info.state.value)
        bad = info.state in (PluginState.ERROR, PluginState.INCOMPATIBLE)
        colour = css("error") if info.state is PluginState.ERROR else css("warning") if bad else ""
        parts = [f"<h3 style='margin-bottom:2px'>{esc(info.name)}</h3>",
                 f"<p style='margin-top:0'><span style='{'color:' + colour + ';' if colour else ''}"
                 f"font-weight:bold'>{esc(state)}</span>"
                 + (f" \u2014 {esc(info.reason)}" if info.reason else "") + "</p>"]
        rows = [(k, v) for k, v in self.details_rows(info) if k not in ("Plugin", "State", "Problem", "Note")]
        rows.insert(0, ("ID", info.id))
        parts.append("<table cellspacing='0' cellpadding='2'>")
        for label, value in rows:
            parts.append(f"<tr><td valign='top' style='padding-right:10px'><b>{esc(label)}</b></td>"
                         f"<td valign='top'>{esc(value)}</td></tr>")
        parts.append("</table>")
        if info.runtime_errors:
            parts.append("<p><b>Failures while running</b></p><ul>"
                         + "".join(f"<li>{esc(e)}</li>" for e in info.runtime_errors) + "</ul>")
        notices = self._notices(info)
        if notices:
            parts.append("<p><b>Messages</b></p><ul>" + "".join(f"<li>{esc(n)}</li>" for n in notices) + "</ul>")
        tb = self._traceback(info)
        if tb:
            parts.append("<p><b>Traceback</b></p>"
                         f"<pre style='font-size:small; white-space:pre-wrap'>{esc(tb)}</pre>")
        return "".join(parts)

    def _show_details(self) -> None:
        info = self.current_info()
        if info is None:
            self.details.setHtml(
                "<p>No plugin selected.</p>" if self.infos else
                f"<p>No plugins found.</p><p>A plugin is a folder with <code>plugin.toml</code> and "
                f"<code>__init__.py</code>; put yours in <code>{html.escape(str(self.user_dir))}</code> and "
                "restart the app.</p>")
            self.toggle_button.setEnabled(False)
            self.toggle_button.setText("Enable")
            self.copy_button.setEnabled(False)
            return
        self.details.setHtml(self._details_html(info))
        self.copy_button.setEnabled(True)
        self.copy_button.setText("Copy details")
        wants = self._wants_enabled(info)
        self.toggle_button.setEnabled(info.can_toggle)
        self.toggle_button.setText("Disable" if wants else "Enable")
        self.toggle_button.setToolTip(
            "" if info.can_toggle else "This plugin cannot be switched on or off until its problem is fixed")

    # -- switching -----------------------------------------------------------------------------
    def set_enabled(self, info: PluginInfo, on: bool) -> bool:
        """Enable or disable a plugin through the manager; problems are shown, never raised.

        Returns whether the manager accepted the change (the choice is saved), even if the plugin then
        failed to load (its state is ERROR and an error dialog says why).
        """
        name = f"{info.name} ({info.id})"
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            result = self.manager.enable(info.id) if on else self.manager.disable(info.id)
        except Exception as e:  # noqa: BLE001 - a plugin or the settings file must not crash the dialog
            log.warning("could not %s plugin %s: %s", "enable" if on else "disable", info.id, e)
            QGuiApplication.restoreOverrideCursor()
            self._set_status(f"Could not {'enable' if on else 'disable'} {name}: {e}", error=True)
            self._refresh(info)
            self.last_error = show_exception(self, f"Could not {'enable' if on else 'disable'} the plugin", e)
            return False
        QGuiApplication.restoreOverrideCursor()
        self._refresh(info)
        if result is not info:
            self._refresh(result)
        if not on:
            self._set_status(f"Disabled {name}.")
        elif result.state is PluginState.ERROR:
            self._set_status(f"Enabled {name}, but it failed to load: {result.reason}", error=True)
            self.last_error = show_error(self, "Plugin failed to load",
                                         f"{name} is enabled, but it failed to load: {result.reason}",
                                         result.traceback)
        elif result.state is PluginState.INCOMPATIBLE:
            self._set_status(f"Enabled {name}, but it cannot run here: {result.reason}", error=True)
        elif self.manager.safe_mode:
            self._set_status(f"Enabled {name}. It loads the next time the app starts without safe mode.")
        else:
            self._set_status(f"Enabled {name}.")
        self._notify_changed()
        return True

    def _notify_changed(self) -> None:
        self.plugins_changed.emit()
        if self.on_changed is not None:
            try:
                self.on_changed()
            except Exception as e:  # the caller's refresh must not crash the dialog
                log.exception("plugins on_changed callback failed")
                self.last_error = show_exception(self, "Could not update the window after the plugin change", e)

    def _set_status(self, text: str, *, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(f"QLabel#plugins-status {{ color: {css('error')}; }}" if error else "")
        self.status_label.setVisible(bool(text))

    def _refresh(self, info: PluginInfo) -> None:
        item = self._item_of(info)
        if item is not None:
            self._update_item(item, info)
        self._update_summary()
        if self.current_info() is info:
            self._show_details()

    @Slot()
    def _on_toggle_clicked(self) -> None:
        info = self.current_info()
        if info is not None and info.can_toggle:
            self.set_enabled(info, not self._wants_enabled(info))

    @Slot(QTreeWidgetItem, int)
    def _on_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._updating or column != COL_NAME:
            return
        info = self._info_of(item)
        if info is None or not info.can_toggle:
            return
        on = item.checkState(COL_NAME) == Qt.CheckState.Checked
        if on != self._wants_enabled(info):
            self.set_enabled(info, on)

    @Slot(QTreeWidgetItem, QTreeWidgetItem)
    def _on_current_changed(self, _current: QTreeWidgetItem | None, _previous: QTreeWidgetItem | None) -> None:
        self._show_details()

    # -- the other buttons ---------------------------------------------------------------------
    @Slot()
    def _on_copy_clicked(self) -> None:
        text = self.details_text()
        if text:
            QGuiApplication.clipboard().setText(text)
            self.copy_button.setText("Copied")

    @Slot()
    def _on_copy_debug_clicked(self) -> None:
        text = self.manager.debug_info()
        notices = list(self.manager.notices)
        if notices:
            text += "\nnotices:\n" + "\n".join(f"  {n}" for n in notices[-50:])
        QGuiApplication.clipboard().setText(f"notebooklm-local {__version__}\n{text}\n")
        self.copy_debug_button.setText("Copied")

    @Slot()
    def _on_open_folder_clicked(self) -> None:
        folder = self.user_dir
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            self.last_error = show_error(self, "Could not open the plugins folder",
                                         f"Cannot create {folder}: {e.strerror or e}")
            return
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            self.last_error = show_error(self, "Could not open the plugins folder",
                                         f"No file manager opened {folder}. Open it yourself to add plugins.")
