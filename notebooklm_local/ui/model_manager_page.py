"""The Settings dialog's Model page: the model list, "Use for chat", add a file, remove, download.

It uses :class:`ModelManager`, the same code as ``notebooklm-local models ...``. Everything that reads model
files (the list reads each GGUF header) or the network runs on the ``io`` lane; the managers there work on a
snapshot of the settings and the GUI thread applies what changed. A download shows its progress, can be
cancelled (the partial file is kept and the next download resumes it), and is cancelled when the dialog closes.
"""

from __future__ import annotations

import copy
import html
import logging
import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from notebooklm_local.core.errors import Cancelled, NotebookError
from notebooklm_local.services.model_manager import CATALOG, CatalogEntry, ModelInfo, ModelManager
from notebooklm_local.services.models import default_embedder_path, embedder_choice
from notebooklm_local.ui.errors import show_exception
from notebooklm_local.ui.theme import color, css

__all__ = ["ModelManagerPage", "DEMO_MODEL", "RECOMMENDED_ID", "RECOMMENDED_CHAT"]

log = logging.getLogger(__name__)

DEMO_MODEL = "Gemma 3 270M (built-in demo)"
MODEL_PAGE_LINK = "page:model"  # the Retrieval page's link to this page
_WHERE = {"default": "built in", "data dir": "models folder", "added": "added"}


# what the welcome dialog recommends, preselected in the catalog: (catalog name, how people call it)
RECOMMENDED_ID, RECOMMENDED_CHAT = "qwen2.5-1.5b-instruct", "Qwen2.5 1.5B Instruct"


def _size(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


class ModelManagerPage:
    """The Settings dialog's Model page, a mixin of :class:`~notebooklm_local.ui.settings_dialog.SettingsDialog`:
    the model list (GGUF headers read on the io lane), "Use for chat", add a file, remove, and downloads from
    the catalog or any hub repository, with progress and Cancel (resumable).

    It works on the dialog's state: ``paths``, ``working`` / ``original`` settings, ``models`` and ``_rows``,
    ``last_error``, ``download_op``, the embedding choice of the Retrieval tab (``embedding``,
    ``embedding_why``), ``_update_reload_note()`` and ``_submit()`` (a ``ui.ops.BackgroundOp`` on the io lane).
    """

    # -- the page ---------------------------------------------------------------------------------------
    def _model_tab(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        self.chat_model_label = QLabel()
        self.chat_model_label.setObjectName("settings-chat-model")
        self.chat_model_label.setWordWrap(True)
        lay.addWidget(self.chat_model_label)
        if self.working.server.enabled:
            server = QLabel(f"An OpenAI-compatible server answers the chat ({html.escape(self.working.server.base_url)}"
                            "; [server] in settings.toml): the chat model chosen here is used when it is off.")
            server.setWordWrap(True)
            server.setStyleSheet(f"color:{css('warning')}")
            lay.addWidget(server)
        self.model_tree = QTreeWidget()
        self.model_tree.setObjectName("settings-models")
        self.model_tree.setAccessibleName("Models")
        self.model_tree.setRootIsDecorated(False)
        self.model_tree.setHeaderLabels(["Model", "Kind", "Architecture", "Parameters", "Quantisation", "Context",
                                         "Size", "Where"])
        header = self.model_tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for i in range(1, 8):
            header.setSectionResizeMode(i, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        self.model_tree.currentItemChanged.connect(self._on_current_model_changed)
        self.model_tree.itemDoubleClicked.connect(self._on_model_double_clicked)
        lay.addWidget(self.model_tree, 1)
        row = QHBoxLayout()
        self.use_button = QPushButton("Use for chat")
        self.use_button.setObjectName("settings-use-model")
        self.use_button.setToolTip("Answer with the selected model (after OK)")
        self.use_button.clicked.connect(self._on_use_clicked)
        self.add_button = QPushButton("Add file…")
        self.add_button.setObjectName("settings-add-model")
        self.add_button.setToolTip("Use a GGUF model file from your disk (it stays where it is)")
        self.add_button.clicked.connect(self._on_add_clicked)
        self.remove_button = QPushButton("Remove…")
        self.remove_button.setObjectName("settings-remove-model")
        self.remove_button.setToolTip("Forget an added model, or delete a downloaded one")
        self.remove_button.clicked.connect(self._on_remove_clicked)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh_models)
        for b in (self.use_button, self.add_button, self.remove_button):
            row.addWidget(b)
        row.addStretch(1)
        row.addWidget(self.refresh_button)
        lay.addLayout(row)
        self.model_status = QLabel()
        self.model_status.setObjectName("settings-model-status")
        self.model_status.setWordWrap(True)
        self.model_status.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(self.model_status)

        box = QGroupBox("Download a recommended model")
        form = QVBoxLayout(box)
        row = QHBoxLayout()
        self.catalog = QComboBox()
        self.catalog.setObjectName("settings-catalog")
        self.catalog.setAccessibleName("Model to download")
        for e in CATALOG:
            self.catalog.addItem(f"{e.name} — {e.kind}, ~{_size(e.size_mb * 1_000_000)}", e)
        self.catalog.addItem("Another GGUF on the hub…", None)
        self.catalog.currentIndexChanged.connect(self._on_catalog_changed)
        row.addWidget(self.catalog, 1)
        self.download_button = QPushButton("Download")
        self.download_button.setObjectName("settings-download")
        self.download_button.clicked.connect(self.start_download)
        self.cancel_download_button = QPushButton("Cancel download")
        self.cancel_download_button.setObjectName("settings-cancel-download")
        self.cancel_download_button.setEnabled(False)
        self.cancel_download_button.clicked.connect(self.cancel_download)
        row.addWidget(self.download_button)
        row.addWidget(self.cancel_download_button)
        form.addLayout(row)
        self.catalog_info = QLabel()
        self.catalog_info.setWordWrap(True)
        self.catalog_info.setStyleSheet(f"color:{css('muted')}")
        form.addWidget(self.catalog_info)
        custom = QHBoxLayout()
        self.repo_edit = QLineEdit()
        self.repo_edit.setPlaceholderText("owner/repository")
        self.file_edit = QLineEdit()
        self.file_edit.setPlaceholderText("file.gguf")
        # labels as buddies: a screen reader names each field by its label (they were read unnamed)
        repo_label, file_label = QLabel("Repository:"), QLabel("File:")
        repo_label.setBuddy(self.repo_edit)
        file_label.setBuddy(self.file_edit)
        custom.addWidget(repo_label)
        custom.addWidget(self.repo_edit, 1)
        custom.addWidget(file_label)
        custom.addWidget(self.file_edit, 1)
        self.custom_row = QWidget()
        self.custom_row.setLayout(custom)
        form.addWidget(self.custom_row)
        self.progress = QProgressBar()
        self.progress.setObjectName("settings-download-progress")
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)
        form.addWidget(self.progress)
        self.download_status = QLabel()
        self.download_status.setObjectName("settings-download-status")
        self.download_status.setWordWrap(True)
        self.download_status.setTextFormat(Qt.TextFormat.RichText)
        form.addWidget(self.download_status)
        endpoint = QHBoxLayout()
        endpoint_label = QLabel("Hub endpoint:")
        endpoint.addWidget(endpoint_label)
        self.endpoint_edit = QLineEdit()
        endpoint_label.setBuddy(self.endpoint_edit)  # was read as the group's title
        self.endpoint_edit.setObjectName("settings-hub-endpoint")
        self.endpoint_edit.setPlaceholderText("https://huggingface.co (or $HF_ENDPOINT)")
        self.endpoint_edit.setToolTip("A Hugging Face mirror to download from; empty: $HF_ENDPOINT, else the hub")
        endpoint.addWidget(self.endpoint_edit, 1)
        form.addLayout(endpoint)
        lay.addWidget(box)
        # preselect the model the welcome dialog recommends (the catalog's first entry is the smallest one)
        for i in range(self.catalog.count()):
            if getattr(self.catalog.itemData(i), "name", None) == RECOMMENDED_ID:
                self.catalog.setCurrentIndex(i)
        self._on_catalog_changed(self.catalog.currentIndex())
        return w

    # -- model list -----------------------------------------------------------------------------------

    def _manager(self) -> ModelManager:
        """A manager over a snapshot of the working settings, for use on a pool thread."""
        snapshot = copy.deepcopy(self.working)
        snapshot.model.hub_endpoint = self.endpoint_edit.text().strip()
        return ModelManager(self.paths, snapshot)

    @Slot()
    def refresh_models(self) -> None:
        """Read the model list (GGUF headers) on the io lane."""
        self.model_status.setText("Reading the models…")
        self._submit(self._manager().list, self._on_models_listed, self._on_models_failed)

    @Slot(object)
    def _on_models_listed(self, infos: object) -> None:
        assert isinstance(infos, list)
        self.models = infos
        keep = self._select_after_list or self._selected_path()
        self._select_after_list = None
        self.model_tree.clear()
        manager = ModelManager(self.paths, self.working)
        default = manager.default_path
        rows = list(infos)
        if not any(i.path == default for i in rows):
            rows.insert(0, ModelInfo(default, 0, architecture="gemma3", quantization="Q4_K_M", size_label="270M",
                                     context_length=32768, default=True, source="default"))
        chat = self._chat_path()
        emb = Path(self.working.model.embedding_path).expanduser().resolve() if self.working.model.embedding_path \
            else default_embedder_path(self.paths).resolve()
        for info in rows:
            name = DEMO_MODEL if info.default else (info.name or info.file_name)
            uses = [r for r, p in (("chat", chat), ("embedding", emb)) if p == info.path]
            label = name + (f"  ✓ {' + '.join(uses)}" if uses else "")
            if info.error:
                item = QTreeWidgetItem([label, "—", info.error, "", "", "", _size(info.size) if info.size else "",
                                        _WHERE.get(info.source, info.source)])
                item.setForeground(2, color("error"))
                item.setToolTip(2, info.error)
            else:
                item = QTreeWidgetItem([
                    label, info.kind, info.architecture or "?", info.size_label or "?", info.quantization or "?",
                    f"{info.context_length:,}" if info.context_length else "?",
                    _size(info.size) if info.size else "built in", _WHERE.get(info.source, info.source)])
            item.setData(0, Qt.ItemDataRole.UserRole, str(info.path))
            item.setToolTip(0, f"{info.file_name}\n{info.path}")
            item.setToolTip(7, str(info.path))
            if uses:
                font = item.font(0)
                font.setBold(True)
                item.setFont(0, font)
            self.model_tree.addTopLevelItem(item)
            if str(info.path) == keep:
                self.model_tree.setCurrentItem(item)
        self._rows = rows
        self._fill_embedding()
        self._update_chat_label()
        self._on_model_selected()
        if self.model_status.text() == "Reading the models…":
            self.model_status.setText(f"{len(infos)} model file{'s' if len(infos) != 1 else ''}.")

    @Slot(object)
    def _on_models_failed(self, exc: object) -> None:
        self.model_status.setText(f"<span style='color:{css('error')}'>Could not list the models: {html.escape(str(exc))}"
                                  "</span>")

    def _chat_path(self) -> Path:
        m = self.working.model
        return Path(m.path).expanduser().resolve() if m.path else ModelManager(self.paths, self.working).default_path

    def _update_chat_label(self) -> None:
        m = self.working.model
        name = Path(m.path).name if m.path else DEMO_MODEL
        changed = m.path != self.original.model.path
        self.chat_model_label.setText(f"<b>Chat model:</b> {html.escape(name)}"
                                      + (" <i>(used after OK)</i>" if changed else ""))

    def _fill_embedding(self) -> None:
        current = self.embedding.currentData() if self.embedding.count() else self.working.model.embedding_path
        self.embedding.blockSignals(True)
        self.embedding.clear()
        self.embedding.addItem("Built-in: all-MiniLM-L6-v2 (fast; English-centred)", "")
        builtin = default_embedder_path(self.paths).resolve()
        infos = [i for i in self._rows if not i.error and not i.default and i.path != builtin]
        for info in sorted(infos, key=lambda i: (not i.is_embedding, i.file_name.lower())):
            self.embedding.addItem(f"{info.file_name} ({info.kind})", str(info.path))
        if current:
            i = self.embedding.findData(current)
            if i < 0:
                self.embedding.addItem(Path(current).name, current)
                i = self.embedding.count() - 1
            self.embedding.setCurrentIndex(i)
        self.embedding.blockSignals(False)
        self._update_embedding_why()

    @Slot()
    def _update_embedding_why(self, _index: int = 0) -> None:
        """Which embedder is in use and why (what `doctor` says), and what choosing another one does."""
        chosen = self.embedding.currentData() or ""
        if chosen == self.original.model.embedding_path:
            # said for this page (the CLI's reason says "in Settings", where the user already is)
            path, _why = embedder_choice(self.paths, self.original, ensure=False)
            if chosen:
                text = f"In use: {html.escape(path.name)} (chosen above)."
            else:
                have = any("bge-m3" in str(self.embedding.itemData(i) or "").lower()
                           for i in range(self.embedding.count()))
                how = ("choose bge-m3 above" if have else
                       f'download the multilingual bge-m3 on the <a href="{MODEL_PAGE_LINK}">Model page</a>, '
                       "then choose it above")
                text = (f"In use: {html.escape(path.name)} \u2014 the built-in default, all-MiniLM-L6-v2 "
                        f"(English-centred). For other languages, {how}.")
        else:
            text = "Used after OK: every source is embedded again, in the background (keyword search meanwhile)."
        self.embedding_why.setText(text)

    @Slot(str)
    def _on_embedding_why_link(self, href: str) -> None:
        """The "Model page" link: switch to that page with bge-m3 chosen in the download box."""
        if href != MODEL_PAGE_LINK:
            return
        self.show_tab("model")
        i = next((k for k in range(self.catalog.count())
                  if getattr(self.catalog.itemData(k), "name", "") == "bge-m3"), -1)
        if i >= 0:
            self.catalog.setCurrentIndex(i)
        self.catalog.setFocus()

    def _selected_path(self) -> str | None:
        item = self.model_tree.currentItem()
        return item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None

    def _selected_info(self) -> ModelInfo | None:
        path = self._selected_path()
        return next((i for i in self._rows if str(i.path) == path), None)

    @Slot(QTreeWidgetItem, QTreeWidgetItem)
    def _on_current_model_changed(self, _current: QTreeWidgetItem, _previous: QTreeWidgetItem) -> None:
        self._on_model_selected()

    def _on_model_selected(self) -> None:
        info = self._selected_info()
        self.use_button.setEnabled(info is not None and not info.error and not info.is_embedding
                                   and info.path != self._chat_path())
        self.remove_button.setEnabled(info is not None and (info.size > 0 or info.source == "added"))

    @Slot(QTreeWidgetItem, int)
    def _on_model_double_clicked(self, _item: QTreeWidgetItem, _column: int) -> None:
        if self.use_button.isEnabled():
            self._on_use_clicked()

    @Slot()
    def _on_use_clicked(self) -> None:
        info = self._selected_info()
        if info is None or info.error:
            return
        self._use_for_chat(info)

    def _use_for_chat(self, info: ModelInfo) -> None:
        self.working.model.path = "" if info.default else str(info.path)
        self.model_status.setText(f"{html.escape(DEMO_MODEL if info.default else info.file_name)} will answer "
                                  "the chat after you press OK.")
        self._select_after_list = str(info.path)
        self._on_models_listed(self.models)
        self._update_reload_note()

    # -- add / remove -------------------------------------------------------------------------------

    def _choose_model_file(self) -> str:
        path, _filter = QFileDialog.getOpenFileName(self, "Add a GGUF model", str(Path.home()),
                                                    "GGUF models (*.gguf);;All files (*)")
        return path

    @Slot()
    def _on_add_clicked(self) -> None:
        path = self._choose_model_file()
        if path:
            self.add_model_file(path)

    def add_model_file(self, path: str) -> None:
        """Check a GGUF on the io lane and add it (made the chat model when it is one)."""
        self.model_status.setText(f"Checking {html.escape(Path(path).name)}…")
        self.add_button.setEnabled(False)
        manager = self._manager()
        self._submit(lambda: manager.add(path), self._on_model_added, self._on_add_failed)

    @Slot(object)
    def _on_model_added(self, info: object) -> None:
        assert isinstance(info, ModelInfo)
        self.add_button.setEnabled(True)
        extra = self.working.model.extra_paths
        if info.source == "added" and str(info.path) not in extra:
            extra.append(str(info.path))
        if not info.is_embedding:
            self.working.model.path = "" if info.default else str(info.path)
            note = "it will answer the chat after you press OK"
        else:
            note = "it is an embedding model: choose it on the Retrieval tab to use it"
        self._select_after_list = str(info.path)
        self.refresh_models()
        self._update_reload_note()
        self.model_status.setText(f"Added {html.escape(info.file_name)} ({html.escape(info.architecture or '?')}, "
                                  f"{html.escape(info.quantization or '?')}); {note}.")

    @Slot(object)
    def _on_add_failed(self, exc: object) -> None:
        self.add_button.setEnabled(True)
        assert isinstance(exc, BaseException)
        self.model_status.setText(f"<span style='color:{css('error')}'>{html.escape(str(exc))}</span>")
        self.last_error = show_exception(self, "This file cannot be added as a model", exc)

    def _confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text, QMessageBox.StandardButton.Ok
                                      | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Ok

    @Slot()
    def _on_remove_clicked(self) -> None:
        info = self._selected_info()
        if info is None:
            return
        roles = [r for r, v in (("chat", "path"), ("embedding", "embedding_path"))
                 for s in (self.working, self.original)
                 if (getattr(s.model, v) and Path(getattr(s.model, v)).expanduser().resolve() == info.path)
                 or (not getattr(s.model, v) and info.default)]
        if roles:
            self.model_status.setText(f"<span style='color:{css('error')}'>{html.escape(info.file_name)} is the "
                                      f"{' and '.join(sorted(set(roles)))} model: choose another one and press OK "
                                      "first.</span>")
            return
        deletes = info.source != "added"
        question = (f"Delete {info.path} ({_size(info.size)})?" if deletes else
                    f"Forget {info.file_name}? The file stays where it is:\n{info.path}")
        if not self._confirm("Remove model", question):
            return
        manager = self._manager()
        self.remove_button.setEnabled(False)
        self._submit(lambda: manager.remove(str(info.path)), self._on_model_removed, self._on_remove_failed)

    @Slot(object)
    def _on_model_removed(self, removed: object) -> None:
        info = removed.info  # type: ignore[attr-defined]
        if removed.forgot:  # type: ignore[attr-defined]
            self.working.model.extra_paths[:] = [
                p for p in self.working.model.extra_paths if Path(p).expanduser().resolve() != info.path]
        self.refresh_models()
        self.model_status.setText(html.escape(removed.message()))  # type: ignore[attr-defined]

    @Slot(object)
    def _on_remove_failed(self, exc: object) -> None:
        assert isinstance(exc, BaseException)
        self.model_status.setText(f"<span style='color:{css('error')}'>{html.escape(str(exc))}</span>")
        self.last_error = show_exception(self, "Could not remove the model", exc)
        self._on_model_selected()

    # -- download -------------------------------------------------------------------------------------

    @Slot(int)
    def _on_catalog_changed(self, _index: int) -> None:
        entry = self.catalog.currentData()
        self.custom_row.setVisible(entry is None)
        if isinstance(entry, CatalogEntry):
            lic = f" Licence: {entry.license}." if entry.license else ""
            self.catalog_info.setText(f"{entry.description}{lic} From {entry.repo_id}.")
        else:
            self.catalog_info.setText("A single-file .gguf from any Hugging Face repository (or mirror).")

    @Slot()
    def start_download(self) -> None:
        """Download the chosen model on the io lane, with progress; Cancel stops it (resumable)."""
        if self.download_op is not None and not self.download_op.done:
            return
        entry = self.catalog.currentData()
        if isinstance(entry, CatalogEntry):
            spec, filename, label = entry, None, entry.name
        else:
            spec, filename = self.repo_edit.text().strip(), self.file_edit.text().strip()
            if not spec or not filename:
                self.download_status.setText(f"<span style='color:{css('error')}'>Give the repository (owner/name) and the "
                                             ".gguf file to download.</span>")
                return
            label = filename
        endpoint = self.endpoint_edit.text().strip()
        if endpoint and not re.match(r"^https?://[^\s/]+", endpoint):
            self.download_status.setText(f"<span style='color:{css('error')}'>The hub endpoint must be an http:// or "
                                         "https:// address.</span>")
            return
        manager = self._manager()

        def run(cancel: Any, progress: Any) -> ModelInfo:
            return manager.download(spec, filename, progress=progress, cancel=cancel, endpoint=endpoint or None)

        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.progress.setFormat(f"{label}: starting…")
        self.download_status.setText(f"Downloading {html.escape(label)}…")
        self.download_button.setEnabled(False)
        self.cancel_download_button.setEnabled(True)
        self.download_op = self._submit(run, self._on_downloaded, self._on_download_failed, context=True,
                                        on_progress=self._on_download_progress,
                                        on_finished=self._on_download_finished)

    @Slot()
    def cancel_download(self) -> None:
        if self.download_op is not None and not self.download_op.done:
            self.download_op.cancel()
            self.download_status.setText("Cancelling…")

    @Slot(int, int, str)
    def _on_download_progress(self, done: int, total: int, message: str) -> None:
        if total > 0:
            self.progress.setValue(min(1000, int(1000 * done / total)))
        name, _, status = message.partition(": ")
        self.progress.setFormat(f"{name}: {status or '%p%'}" if status else "%p%")

    @Slot(object)
    def _on_downloaded(self, info: object) -> None:
        assert isinstance(info, ModelInfo)
        note = ""
        if not info.is_embedding and not self.working.model.path:
            self.working.model.path = str(info.path)
            note = " It will answer the chat after you press OK."
        elif info.is_embedding:
            note = " Choose it on the Retrieval tab to use it for search."
        self.progress.setValue(1000)
        self.progress.setFormat("Done")
        self.download_status.setText(f"<span style='color:{css('success')}'>✔ Downloaded {html.escape(info.file_name)} "
                                     f"({_size(info.size)}).</span>{html.escape(note)}")
        self._select_after_list = str(info.path)
        self.refresh_models()
        self._update_reload_note()

    @Slot(object)
    def _on_download_failed(self, exc: object) -> None:
        assert isinstance(exc, BaseException)
        if isinstance(exc, Cancelled):
            self.download_status.setText("Download cancelled. The part already downloaded is kept: Download "
                                         "again to resume.")
            self.progress.setFormat("Cancelled")
            return
        message = str(exc) if isinstance(exc, NotebookError) else f"{type(exc).__name__}: {exc}"
        self.download_status.setText(f"<span style='color:{css('error')}'>✖ {html.escape(message)}</span>")
        self.progress.setFormat("Failed")
        if self.isVisible():
            self.last_error = show_exception(self, "The download failed", exc)

    @Slot()
    def _on_download_finished(self) -> None:
        self.download_button.setEnabled(True)
        self.cancel_download_button.setEnabled(False)

    # -- audio ----------------------------------------------------------------------------------------
