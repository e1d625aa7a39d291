"""The template editor: validation as you type, save/refuse, reset, revert, preview, unsaved changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from notebooklm_local import cli
from notebooklm_local.core.paths import app_paths
from notebooklm_local.core.templates import TemplateStore
from notebooklm_local.workspace import template_store

pytestmark = [pytest.mark.gui]

NAME = "chat_answer"


@pytest.fixture
def store(app_home: Path) -> TemplateStore:
    return template_store(app_paths().ensure())


def make(qtbot: Any, store: TemplateStore, preview_values: Any = None) -> Any:
    """A dialog whose prompts never block: unsaved changes are discarded when qtbot closes it."""
    from notebooklm_local.ui.template_editor import TemplateEditorDialog

    dlg = TemplateEditorDialog(store, preview_values)
    dlg._ask_unsaved = lambda name: "discard"
    dlg._confirm = lambda title, text: True
    qtbot.addWidget(dlg)
    return dlg


@pytest.fixture
def editor(qtbot: Any, store: TemplateStore) -> Any:
    dlg = make(qtbot, store)
    dlg.show()
    assert dlg.select(NAME)
    qtbot.waitUntil(lambda: dlg._checking is None and dlg._last is not None, timeout=10000)
    return dlg


def set_text(qtbot: Any, dlg: Any, part: str, text: str, timeout: int = 10000) -> list[str]:
    """Replace a part and wait for the check of the new text."""
    with qtbot.waitSignal(dlg.validated, timeout=timeout) as blocker:
        dlg.editors[part].setPlainText(text)
    return blocker.args[0]


def problem_texts(dlg: Any) -> list[str]:
    return [dlg.problem_list.item(i).text() for i in range(dlg.problem_list.count())]


def test_syntax_error_is_shown_with_its_line_and_save_is_refused(qtbot: Any, editor: Any, store: TemplateStore) -> None:
    broken = "{{ passages }}\n\nQuestion: {{ question "
    problems = set_text(qtbot, editor, "user", broken)
    assert any("syntax error on line 3" in p for p in problems)
    assert editor.problem_list.isVisible()
    assert any(t.startswith("✖ User part, line 3: syntax error") for t in problem_texts(editor))
    assert "cannot be saved" in editor.status.text()
    assert editor.user_edit.extraSelections()  # the line is marked

    editor.save()
    assert editor.last_error is not None and "not saved" in editor.last_error.message
    assert "line 3" in editor.last_error.message
    assert not store.is_overridden(NAME)
    assert editor.user_edit.toPlainText() == broken  # nothing lost

    # clicking the problem puts the cursor on the line
    editor._on_problem_clicked(editor.problem_list.item(0))
    assert editor.user_edit.textCursor().blockNumber() == 2


def test_unknown_and_missing_variables_are_explained(qtbot: Any, editor: Any) -> None:
    problems = set_text(qtbot, editor, "user", "{{ passages }}\nAsk: {{ questoin }}")
    joined = " ".join(problems)
    assert "unknown variable(s): questoin" in joined and "missing variable(s): question" in joined
    texts = problem_texts(editor)
    assert any("line 2, column 9: unknown variable 'questoin'" in t for t in texts), texts
    assert any("Missing variable(s): question" in t for t in texts), texts


def test_valid_edit_saves_and_the_cli_shows_it(qtbot: Any, editor: Any, store: TemplateStore,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    new_user = "{{ passages }}\n\nPlease answer carefully: {{ question }} 😀\n"
    assert set_text(qtbot, editor, "user", new_user) == []
    assert "Valid" in editor.status.text()
    assert editor.is_dirty() and editor.revert_button.isEnabled()
    with qtbot.waitSignal(editor.template_changed, timeout=10000) as blocker:
        editor.save()
    assert blocker.args == [NAME]
    assert store.is_overridden(NAME) and not editor.is_dirty()
    assert store.get(NAME).origin == "user" and store.get(NAME).user == new_user
    assert store.get(NAME).system == store.default(NAME).system  # the other part and keys are kept
    assert store.get(NAME).variables == store.default(NAME).variables
    item = editor.template_list.currentItem()
    assert "edited" in item.text()

    assert cli.run(cli.build_parser().parse_args(["templates", "show", NAME])) == 0
    assert "Please answer carefully: {{ question }} 😀" in capsys.readouterr().out


def test_reset_restores_the_default(qtbot: Any, editor: Any, store: TemplateStore) -> None:
    set_text(qtbot, editor, "system", "Be brief.\n")
    with qtbot.waitSignal(editor.template_changed, timeout=10000):
        editor.save()
    assert store.is_overridden(NAME) and editor.reset_button.isEnabled()

    editor._confirm = lambda title, text: False  # the user says no
    editor.reset_to_default()
    assert store.is_overridden(NAME)

    editor._confirm = lambda title, text: True
    with qtbot.waitSignal(editor.template_changed, timeout=5000):
        editor.reset_to_default()
    assert not store.is_overridden(NAME)
    assert editor.system_edit.toPlainText() == store.default(NAME).system
    assert "edited" not in editor.template_list.currentItem().text()


def test_revert_puts_back_the_saved_text_and_can_be_undone(qtbot: Any, editor: Any, store: TemplateStore) -> None:
    original = editor.user_edit.toPlainText()
    set_text(qtbot, editor, "user", "{{ passages }} {{ question }} changed")
    editor.revert()
    assert editor.user_edit.toPlainText() == original and not editor.is_dirty()
    editor.user_edit.undo()
    assert editor.user_edit.toPlainText() == "{{ passages }} {{ question }} changed"


def test_preview_renders_sample_values_or_the_selection(qtbot: Any, store: TemplateStore) -> None:
    dlg = make(qtbot, store)
    dlg.select(NAME)
    qtbot.waitUntil(lambda: dlg._last is not None and dlg._checking is None, timeout=10000)
    dlg.tabs.setCurrentIndex(1)
    text = dlg.preview.toPlainText()
    assert "--- system ---" in text and "Question: What does quantization do to a model?" in text
    assert "Quantization stores weights in fewer bits" in text
    assert not dlg.use_selection.isEnabled()

    values = {"question": "Where is the real question?", "passages": "<passages>REAL PASSAGE</passages>",
              "language": "French"}
    live = make(qtbot, store, lambda: values)
    live.select(NAME)
    qtbot.waitUntil(lambda: live._last is not None and live._checking is None, timeout=10000)
    text = live.preview.toPlainText()
    assert "REAL PASSAGE" in text and "Where is the real question?" in text and "Answer in French." in text
    with qtbot.waitSignal(live.validated, timeout=5000, raising=False):
        live.use_sample.setChecked(True)
    assert "What does quantization do to a model?" in live.preview.toPlainText()


def test_unsaved_changes_are_asked_about_on_switch_and_close(qtbot: Any, editor: Any, store: TemplateStore) -> None:
    other = next(n for n in store.names() if n != NAME)
    set_text(qtbot, editor, "user", "{{ passages }} {{ question }} mine")
    asked: list[str] = []

    editor._ask_unsaved = lambda name: asked.append(name) or "cancel"
    assert not editor.select(other)
    assert editor.current == NAME and editor.user_edit.toPlainText().endswith("mine") and asked == [NAME]
    editor.reject()
    assert editor.isVisible()  # cancel: stays open, text kept

    editor._ask_unsaved = lambda name: "save"
    with qtbot.waitSignal(editor.template_changed, timeout=10000):
        editor.select(other)
    qtbot.waitUntil(lambda: editor.current == other, timeout=5000)
    assert store.get(NAME).user.endswith("mine")

    set_text(qtbot, editor, "user", editor.user_edit.toPlainText() + "\nscratch")
    editor._ask_unsaved = lambda name: "discard"
    editor.reject()
    assert not editor.isVisible() and not store.is_overridden(other)


def test_a_big_template_with_emoji_is_checked_off_the_gui_thread_and_saved(qtbot: Any, editor: Any,
                                                                             store: TemplateStore) -> None:
    body = "{{ passages }}\n" + "lorem ipsum 😀 dolor sit amet, consectetur adipiscing\n" * 19000 + "{{ question }}\n"
    assert len(body.encode()) > 1_000_000
    assert set_text(qtbot, editor, "user", body, timeout=60000) == []
    with qtbot.waitSignal(editor.template_changed, timeout=60000):
        editor.save()
    assert store.get(NAME).user == body


def test_an_invalid_saved_copy_is_shown_as_written(qtbot: Any, store: TemplateStore) -> None:
    from notebooklm_local.core.templates import replace_parts

    default = store.default(NAME)
    store.user_dir.mkdir(parents=True, exist_ok=True)
    (store.user_dir / f"{NAME}.toml").write_text(
        replace_parts(default.text, system=default.system, user="{{ passages }} {{ question }} {{ nope }}"),
        encoding="utf-8")
    dlg = make(qtbot, store)
    with qtbot.waitSignal(dlg.validated, timeout=10000) as blocker:
        dlg.select(NAME)
    assert dlg.user_edit.toPlainText() == "{{ passages }} {{ question }} {{ nope }}"
    assert any("nope" in p for p in blocker.args[0])


def test_highlighter_marks_unknown_variables_at_the_right_place_after_emoji(qtbot: Any) -> None:
    from PySide6.QtGui import QTextDocument

    from notebooklm_local.ui.template_editor import TemplateHighlighter, unknown_names

    assert unknown_names(" passages | join(', ') ", {"passages"}) == []
    assert unknown_names(" x.y if z is defined else 'w' ", {"x"}) == [(len(" x.y if "), 1)]
    doc = QTextDocument()
    hl = TemplateHighlighter(doc, {"question"})
    doc.setPlainText("😀 {{ nope }} {{ question }}")
    hl.rehighlight()
    ranges = doc.firstBlock().layout().formats()
    unknown = [r for r in ranges if r.format.underlineStyle() == r.format.UnderlineStyle.WaveUnderline]
    assert [(r.start, r.length) for r in unknown] == [(6, 4)]  # UTF-16: the emoji counts 2


def test_a_slow_validation_runs_on_a_lane_of_its_own_and_blocks_no_other_work(
    qtbot: Any, store: TemplateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 20: while a check is stuck (a template slow to render), the io and store lanes (adding sources,
    downloads, index writes) and the GUI thread go on; the check's result arrives once it finishes."""
    import threading

    from notebooklm_local.ui.template_editor import TemplateEditorDialog
    from notebooklm_local.ui.workers import FunctionWorker, Lanes

    lanes = Lanes()
    release, entered = threading.Event(), threading.Event()
    real = store.validate

    def slow(name: str, text: str) -> Any:
        entered.set()
        assert release.wait(20)
        return real(name, text)

    dlg = TemplateEditorDialog(store, None, lanes=lanes)
    dlg._ask_unsaved = lambda name: "discard"
    qtbot.addWidget(dlg)
    dlg.show()
    try:
        assert dlg.select(NAME)
        qtbot.waitUntil(lambda: dlg._checking is None and dlg._last is not None, timeout=10000)
        monkeypatch.setattr(store, "validate", slow)
        dlg.editors["user"].setPlainText("{{ passages }}\n{{ question }} — edited\n")
        qtbot.waitUntil(entered.is_set, timeout=5000)
        assert dlg._checking is not None and dlg.status.text() == "Checking…"
        # every other lane takes work and finishes it while the check is stuck (io has up to 4 threads:
        # fill them all, as a folder walk and downloads would)
        done: list[str] = []
        for pool, n in ((lanes.io, lanes.io.maxThreadCount()), (lanes.store, 1), (lanes.llm, 1)):
            for i in range(n):
                lanes.submit(pool, FunctionWorker(lambda i=i: done.append(f"{i}")))
        expected = lanes.io.maxThreadCount() + 2
        qtbot.waitUntil(lambda: len(done) == expected, timeout=5000)
        assert dlg._checking is not None  # still stuck
        assert lanes.templates.activeThreadCount() == 1 and lanes.io.activeThreadCount() == 0
        with qtbot.waitSignal(dlg.validated, timeout=20000) as checked:
            release.set()
        assert checked.args[0] == []
    finally:
        release.set()
        lanes.shutdown(5000)
