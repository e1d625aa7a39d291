"""The Plugins dialog over a real PluginManager: the bundled plugins and real plugin folders in a temp dir
(a good one, an invalid manifest, one whose register() raises, one for an unsupported API version).

States and errors are shown as the manager has them; switching a plugin off and on changes the manager
and persists (a new manager over the same paths sees it); failures show an error dialog and never raise;
safe mode has a banner; "Copy details" copies the selected plugin's details.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from notebooklm_local.core.paths import AppPaths
from notebooklm_local.core.settings import Settings, load_settings
from notebooklm_local.extensions.manager import NO_PLUGINS_ENV, STRICT_ENV, PluginManager, PluginState, module_name
from tests.extensions.helpers import loader_code, make_manager, manifest, write_plugin

pytestmark = [pytest.mark.gui]

RAISING_CODE = """
def register(api):
    raise RuntimeError("boom: the counter table is missing")
"""
BUNDLED = {  # bundled plugin id -> (name, state when nothing was switched)
    "docx-loader": ("Word documents (DOCX)", "Enabled"),
    "epub-loader": ("E-books (EPUB)", "Enabled"),
    "example-plugin": ("Example plugin", "Disabled"),
    "obsidian-export": ("Obsidian vault exporter", "Enabled"),
    "piper_tts": ("Piper voices (text-to-speech)", "Enabled"),
}


def write_user_plugins(user: Path) -> None:
    write_plugin(user, "good", manifest("good", name="Good loader"), loader_code("good-loader", ".good"))
    write_plugin(user, "badmanifest", 'id = "badmanifest"\nname = "Bad"\nversion = "1.0"\n', "def register(api): pass\n")
    write_plugin(user, "raiser", manifest("raiser", name="Raiser"), RAISING_CODE)
    write_plugin(user, "future", manifest("future", name="From the future", api='["99"]'), "def register(api): pass\n")


def loaded_manager(tmp_path: Path, settings: Settings | None = None, *, safe_mode: bool | None = False,
                   ) -> tuple[PluginManager, AppPaths, Path]:
    m, paths, user = make_manager(tmp_path, settings, safe_mode=safe_mode, with_bundled=True)
    write_user_plugins(user)
    m.load_all()
    return m, paths, user


def fresh_manager(paths: AppPaths, user: Path) -> PluginManager:
    """A new manager over the same data dir and settings file (what the next start sees)."""
    m = PluginManager(paths, load_settings(paths.settings_file), safe_mode=False, user_dir=user)
    m.discover()
    return m


def make_dialog(qtbot: Any, manager: PluginManager, **kw: Any) -> Any:
    from notebooklm_local.ui.plugins_dialog import PluginsDialog

    dlg = PluginsDialog(manager, **kw)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitExposed(dlg)
    return dlg


def rows(dlg: Any) -> dict[str, dict[str, Any]]:
    """Each row by plugin id: the texts of its columns and its checkbox (None: not checkable)."""
    out = {}
    for i in range(dlg.tree.topLevelItemCount()):
        item = dlg.tree.topLevelItem(i)
        info = dlg._info_of(item)
        checkable = bool(item.flags() & Qt.ItemFlag.ItemIsUserCheckable)
        out[info.id] = {
            "name": item.text(0), "version": item.text(1), "state": item.text(2), "source": item.text(3),
            "checked": (item.checkState(0) == Qt.CheckState.Checked) if checkable else None,
            "item": item,
        }
    return out


def details(dlg: Any) -> str:
    return dlg.details.toPlainText()


def error_dialogs(dlg: Any) -> list[Any]:
    from notebooklm_local.ui.errors import ErrorDialog

    return [d for d in dlg.findChildren(ErrorDialog) if d.isVisible()]


def test_lists_every_plugin_with_its_state_source_and_checkbox(qtbot: Any, tmp_path: Path) -> None:
    manager, _paths, _user = loaded_manager(tmp_path)
    dlg = make_dialog(qtbot, manager)
    r = rows(dlg)
    assert list(r) == [*BUNDLED, "badmanifest", "future", "good", "raiser"]  # bundled first, folder order
    for pid, (name, state) in BUNDLED.items():
        assert (r[pid]["name"], r[pid]["state"], r[pid]["source"]) == (name, state, "Bundled")
        assert r[pid]["checked"] is (state == "Enabled")  # example-plugin is off by default
    assert (r["good"]["name"], r["good"]["version"], r["good"]["state"], r["good"]["source"]) == (
        "Good loader", "0.1.0", "Enabled", "User")
    assert r["raiser"]["state"] == "Error" and r["raiser"]["checked"] is True  # wanted on, failed to load
    assert r["future"]["state"] == "Incompatible"
    # an unreadable manifest: named by its folder, no version, nothing to switch
    assert (r["badmanifest"]["name"], r["badmanifest"]["version"], r["badmanifest"]["state"]) == (
        "badmanifest", "\u2013", "Error")
    assert r["badmanifest"]["checked"] is None
    assert "'api' is missing" in r["badmanifest"]["item"].toolTip(2)
    assert dlg.summary_label.text() == "9 plugins found: 5 enabled, 1 disabled, 2 with errors, 1 incompatible."
    assert dlg.safe_mode_banner.isHidden()
    assert "loads it at once" in dlg.note_label.text() and "after a restart" in dlg.note_label.text()


def test_details_show_manifest_contributions_and_errors(qtbot: Any, tmp_path: Path) -> None:
    manager, paths, user = loaded_manager(tmp_path)
    dlg = make_dialog(qtbot, manager)

    dlg.select("good")
    text = details(dlg)
    for expected in ("Good loader", "good", "0.1.0", "User plugin", str(user / "good"), "A test plugin.",
                     "1 (this app supports 1)", "Adds source loaders", "good-loader",
                     str(paths.config / "plugin-settings" / "good.toml")):
        assert expected in text, expected
    assert "Traceback" not in text
    assert dlg.toggle_button.isEnabled() and dlg.toggle_button.text() == "Disable"

    dlg.select("raiser")
    text = details(dlg)
    assert "register() failed: RuntimeError: boom: the counter table is missing" in text
    assert "Traceback (most recent call last)" in text and 'raise RuntimeError("boom' in text
    assert "Adds" not in text  # what it registered before failing was removed

    dlg.select("future")
    assert "needs plugin API 99; this notebooklm-local supports 1" in details(dlg)

    dlg.select("badmanifest")
    text = details(dlg)
    assert "invalid plugin.toml: 'api' is missing" in text and str(user / "badmanifest") in text
    assert not dlg.toggle_button.isEnabled()  # nothing to switch until the manifest is fixed


def test_disable_then_enable_changes_the_manager_and_persists(qtbot: Any, tmp_path: Path) -> None:
    manager, paths, user = loaded_manager(tmp_path)
    calls: list[str] = []
    dlg = make_dialog(qtbot, manager, on_changed=lambda: calls.append("changed"))
    assert "good-loader" in {ld.name for ld in manager.source_loaders()}

    # the checkbox in the list switches it off
    with qtbot.waitSignal(dlg.plugins_changed, timeout=2000):
        rows(dlg)["good"]["item"].setCheckState(0, Qt.CheckState.Unchecked)
    assert manager.get("good").state is PluginState.DISABLED
    assert "good-loader" not in {ld.name for ld in manager.source_loaders()}
    assert rows(dlg)["good"]["state"] == "Disabled" and rows(dlg)["good"]["checked"] is False
    assert calls == ["changed"]
    assert dlg.status_label.text() == "Disabled Good loader (good)."
    assert "good" in load_settings(paths.settings_file).disabled_plugins
    assert fresh_manager(paths, user).get("good").state is PluginState.DISABLED

    # the button switches it back on: loaded at once
    dlg.select("good")
    assert dlg.toggle_button.text() == "Enable"
    with qtbot.waitSignal(dlg.plugins_changed, timeout=2000):
        qtbot.mouseClick(dlg.toggle_button, Qt.MouseButton.LeftButton)
    assert manager.get("good").state is PluginState.ENABLED
    assert "good-loader" in {ld.name for ld in manager.source_loaders()}
    assert rows(dlg)["good"]["state"] == "Enabled" and rows(dlg)["good"]["checked"] is True
    assert "good-loader" in details(dlg) and dlg.toggle_button.text() == "Disable"
    assert calls == ["changed", "changed"] and not error_dialogs(dlg)
    assert "good" not in load_settings(paths.settings_file).disabled_plugins
    assert fresh_manager(paths, user).get("good").state is PluginState.DISCOVERED  # loads at the next start


def test_enabling_an_off_by_default_bundled_plugin_persists_the_opt_in(qtbot: Any, tmp_path: Path) -> None:
    manager, paths, user = loaded_manager(tmp_path)
    dlg = make_dialog(qtbot, manager)
    dlg.select("example-plugin")
    assert "off until you enable it" in details(dlg)
    qtbot.mouseClick(dlg.toggle_button, Qt.MouseButton.LeftButton)
    assert manager.get("example-plugin").state is PluginState.ENABLED
    assert rows(dlg)["example-plugin"]["state"] == "Enabled"
    assert fresh_manager(paths, user).get("example-plugin").state is PluginState.DISCOVERED
    assert dlg.summary_label.text().startswith("9 plugins found: 6 enabled")


def test_a_plugin_that_raises_on_enable_shows_an_error_and_the_dialog_goes_on(qtbot: Any, tmp_path: Path) -> None:
    manager, paths, user = loaded_manager(tmp_path, Settings(disabled_plugins=["raiser"]))
    assert manager.get("raiser").state is PluginState.DISABLED
    dlg = make_dialog(qtbot, manager)
    dlg.select("raiser")
    with qtbot.waitSignal(dlg.plugins_changed, timeout=2000):  # the choice is saved even though it fails
        qtbot.mouseClick(dlg.toggle_button, Qt.MouseButton.LeftButton)
    assert manager.get("raiser").state is PluginState.ERROR
    assert manager.registry.contributions("raiser") == {} and module_name("raiser") not in sys.modules
    shown = error_dialogs(dlg)
    assert len(shown) == 1 and shown[0] is dlg.last_error
    assert "Raiser (raiser) is enabled, but it failed to load: register() failed: RuntimeError: boom" in (
        shown[0].message)
    assert "Traceback (most recent call last)" in shown[0].details
    assert rows(dlg)["raiser"]["state"] == "Error"
    assert "failed to load" in dlg.status_label.text() and not dlg.status_label.isHidden()
    assert "boom: the counter table is missing" in details(dlg)
    assert fresh_manager(paths, user).get("raiser").state is PluginState.DISCOVERED  # on: retried next start

    # still usable: switch it off again
    shown[0].close()
    rows(dlg)["raiser"]["item"].setCheckState(0, Qt.CheckState.Unchecked)
    assert manager.get("raiser").state is PluginState.DISABLED and rows(dlg)["raiser"]["state"] == "Disabled"


def test_strict_mode_exception_from_enable_is_shown_not_raised(qtbot: Any, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STRICT_ENV, "1")
    manager, _paths, user = make_manager(tmp_path, Settings(disabled_plugins=["raiser"]), with_bundled=False)
    write_plugin(user, "raiser", manifest("raiser", name="Raiser"), RAISING_CODE)
    manager.load_all()
    dlg = make_dialog(qtbot, manager)
    changed: list[bool] = []
    dlg.plugins_changed.connect(lambda: changed.append(True))
    rows(dlg)["raiser"]["item"].setCheckState(0, Qt.CheckState.Checked)  # manager.enable re-raises
    shown = error_dialogs(dlg)
    assert len(shown) == 1 and "Unexpected error: RuntimeError: boom" in shown[0].message
    assert shown[0].windowTitle() == "Could not enable the plugin"
    assert changed == []
    assert "Could not enable Raiser (raiser)" in dlg.status_label.text()
    assert rows(dlg)["raiser"]["state"] == "Error"  # the row shows the manager's state, not the click


def test_a_failing_on_changed_callback_is_shown(qtbot: Any, tmp_path: Path) -> None:
    manager, _paths, _user = loaded_manager(tmp_path)

    def broken() -> None:
        raise ValueError("window refresh failed")

    dlg = make_dialog(qtbot, manager, on_changed=broken)
    dlg.select("good")
    qtbot.mouseClick(dlg.toggle_button, Qt.MouseButton.LeftButton)
    assert manager.get("good").state is PluginState.DISABLED
    shown = error_dialogs(dlg)
    assert len(shown) == 1 and "ValueError: window refresh failed" in shown[0].message


def test_safe_mode_banner_and_enabling_in_safe_mode(qtbot: Any, tmp_path: Path) -> None:
    manager, paths, user = loaded_manager(tmp_path, safe_mode=True)
    dlg = make_dialog(qtbot, manager)
    assert not dlg.safe_mode_banner.isHidden()
    banner = dlg.safe_mode_banner.text()
    assert "Safe mode is on (--safe-mode): no plugins are loaded" in banner and "without --safe-mode" in banner
    r = rows(dlg)
    assert r["good"]["state"] == "Not loaded" and r["docx-loader"]["state"] == "Not loaded"
    assert r["raiser"]["state"] == "Not loaded"  # nothing ran, so nothing failed
    assert r["badmanifest"]["state"] == "Error" and r["future"]["state"] == "Incompatible"
    dlg.select("good")
    assert "not loaded: safe mode (--safe-mode)" in details(dlg)

    dlg.select("example-plugin")
    qtbot.mouseClick(dlg.toggle_button, Qt.MouseButton.LeftButton)
    assert manager.get("example-plugin").state is PluginState.DISCOVERED  # switched on, not loaded
    assert not manager.registry.contributions("example-plugin")
    assert "next time the app starts without safe mode" in dlg.status_label.text()
    assert fresh_manager(paths, user).get("example-plugin").state is PluginState.DISCOVERED


def test_safe_mode_from_the_environment_says_which_variable(qtbot: Any, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NO_PLUGINS_ENV, "1")
    manager, _paths, _user = loaded_manager(tmp_path, safe_mode=None)
    dlg = make_dialog(qtbot, manager)
    banner = dlg.safe_mode_banner.text()
    assert f"Safe mode is on ({NO_PLUGINS_ENV}=1)" in banner and f"unset the environment variable {NO_PLUGINS_ENV}" in banner


def test_copy_details_and_debug_info_go_to_the_clipboard(qtbot: Any, tmp_path: Path) -> None:
    manager, _paths, user = loaded_manager(tmp_path)
    dlg = make_dialog(qtbot, manager)
    dlg.select("raiser")
    qtbot.mouseClick(dlg.copy_button, Qt.MouseButton.LeftButton)
    copied = QGuiApplication.clipboard().text()
    assert copied == dlg.details_text()
    assert "Plugin:" in copied and "Raiser (raiser)" in copied and str(user / "raiser") in copied
    assert "Problem:        register() failed: RuntimeError: boom" in copied
    assert 'raise RuntimeError("boom: the counter table is missing")' in copied
    assert dlg.copy_button.text() == "Copied"

    qtbot.mouseClick(dlg.copy_debug_button, Qt.MouseButton.LeftButton)
    debug = QGuiApplication.clipboard().text()
    assert manager.debug_info() in debug and "raiser 0.1.0 [user] error: register() failed" in debug


def test_open_plugins_folder_creates_it(qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from notebooklm_local.ui import plugins_dialog

    manager, _paths, user = make_manager(tmp_path)
    manager.roots[1] = (tmp_path / "not-yet" / "plugins", "user")
    manager.load_all()
    dlg = make_dialog(qtbot, manager)
    assert dlg.tree.topLevelItemCount() == 0
    assert "No plugins found" in details(dlg) and str(tmp_path / "not-yet" / "plugins") in details(dlg)
    opened: list[str] = []
    monkeypatch.setattr(plugins_dialog.QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    qtbot.mouseClick(dlg.open_folder_button, Qt.MouseButton.LeftButton)
    assert opened == [str(tmp_path / "not-yet" / "plugins")] and (tmp_path / "not-yet" / "plugins").is_dir()
    assert not error_dialogs(dlg)

    monkeypatch.setattr(plugins_dialog.QDesktopServices, "openUrl", lambda url: False)
    qtbot.mouseClick(dlg.open_folder_button, Qt.MouseButton.LeftButton)
    shown = error_dialogs(dlg)
    assert len(shown) == 1 and str(tmp_path / "not-yet" / "plugins") in shown[0].message
