"""The plugin manager: discovery, manifests, states, containment, safe/strict mode, enable/disable.

Every plugin here is a folder written into tmp_path; nothing needs a model.
"""

from __future__ import annotations

import ast
import logging
import os
import sys
import time
from pathlib import Path

import pytest

from notebooklm_local.core.documents import SourceRef
from notebooklm_local.core.errors import NotebookError, SourceLoadError
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.note_export import ExportError
from notebooklm_local.core.notes import Note
from notebooklm_local.core.paths import bundled_plugins_dir
from notebooklm_local.core.settings import Settings, load_settings
from notebooklm_local.core.tts import pick_engine
from notebooklm_local.extensions.api import PluginApi
from notebooklm_local.extensions.manager import (
    MODULE_PREFIX,
    ManifestError,
    PluginState,
    module_name,
    parse_manifest,
    parse_manifest_text,
)
from notebooklm_local.extensions.points import Registry
from tests.extensions.helpers import loader_code, make_manager, manifest, write_plugin

# ---------------------------------------------------------------------------------------------
# Manifests


def test_manifest_fields_and_defaults(tmp_path: Path) -> None:
    m = parse_manifest_text(manifest("my-plugin_2", extra='min_app_version = "0.1"\n'), tmp_path)
    assert (m.id, m.name, m.version, m.api, m.min_app_version) == ("my-plugin_2", "My-Plugin_2", "0.1.0", ("1",), "0.1")
    assert m.entry == "__init__.py" and m.enabled_by_default and m.entry_path == tmp_path / "__init__.py"


@pytest.mark.parametrize(("text", "expected"), [
    ("id = ", "not valid TOML"),
    ('name = "x"\nversion = "1"\napi = ["1"]', "'id' is missing"),
    ('id = "x"\nversion = "1"\napi = ["1"]', "'name' is missing"),
    ('id = "x"\nname = "X"\napi = ["1"]', "'version' is missing"),
    ('id = "x"\nname = "X"\nversion = "1"', "'api' is missing"),
    ('id = "x"\nname = "X"\nversion = 1.0\napi = ["1"]', "'version' must be text"),
    ('id = "x"\nname = "X"\nversion = "1"\napi = [1]', "'api' must be a list"),
    ('id = "x"\nname = "X"\nversion = "1"\napi = "1"', "'api' must be a list"),
    ('id = "Bad Id!"\nname = "X"\nversion = "1"\napi = ["1"]', "may only use a-z"),
    ('id = "../evil"\nname = "X"\nversion = "1"\napi = ["1"]', "may only use a-z"),
    ('id = "builtin"\nname = "X"\nversion = "1"\napi = ["1"]', "reserved"),
    ('id = "x"\nname = "X"\nversion = "1"\napi = ["1"]\nentry = "../outside.py"', "inside the plugin folder"),
    ('id = "x"\nname = "X"\nversion = "1"\napi = ["1"]\nmin_app_version = "soon"', "must look like"),
    ('id = "x"\nname = "X"\nversion = "1"\napi = ["1"]\nenabled_by_default = "no"', "true or false"),
])
def test_invalid_manifests_say_what_is_wrong(text: str, expected: str) -> None:
    with pytest.raises(ManifestError, match="invalid plugin.toml|not valid TOML") as e:
        parse_manifest_text(text)
    assert expected in str(e.value)


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(ManifestError) as e:
        parse_manifest_text('id = "x"')
    assert all(k in str(e.value) for k in ("'name' is missing", "'version' is missing", "'api' is missing"))


def test_huge_manifest_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    d = write_plugin(tmp_path, "huge", manifest("huge") + "# " + "x" * 5_000_000 + "\n")
    t = time.monotonic()
    with pytest.raises(ManifestError, match="at most 64 KiB"):
        parse_manifest(d)
    assert time.monotonic() - t < 1.0


def test_long_description_is_shortened_not_refused(tmp_path: Path) -> None:
    m = parse_manifest_text(manifest("x").replace("A test plugin.", "word " * 2000))
    assert len(m.description) == 1000 and m.description.endswith("\u2026")


def test_manifest_that_is_not_utf8(tmp_path: Path) -> None:
    d = tmp_path / "latin"
    d.mkdir()
    (d / "plugin.toml").write_bytes(manifest("latin").replace("A test", "\xe9t\xe9").encode("latin-1"))
    with pytest.raises(ManifestError, match="not UTF-8"):
        parse_manifest(d)


# ---------------------------------------------------------------------------------------------
# Discovery and loading


def test_a_good_plugin_loads_under_its_module_name_without_touching_sys_path(tmp_path: Path) -> None:
    m, _paths, user = make_manager(tmp_path)
    write_plugin(user, "upper", manifest("upper-case"), loader_code("upper", ".up"))
    before = list(sys.path)
    (info,) = m.load_all()
    assert sys.path == before
    assert info.state is PluginState.ENABLED and info.reason == "" and info.source == "user"
    assert info.contributions == {"source_loaders": ["upper"]}
    assert module_name("upper-case") == f"{MODULE_PREFIX}.upper_case" in sys.modules
    assert [ld.name for ld in m.source_loaders()][-1] == "upper"
    assert "docx" not in {ld.name for ld in m.source_loaders()}  # no bundled root here
    assert {ld.name for ld in m.source_loaders()} >= {"pdf", "text", "web"}  # the built-ins


def test_discovery_runs_no_plugin_code(tmp_path: Path) -> None:
    m, _paths, user = make_manager(tmp_path)
    marker = tmp_path / "ran"
    write_plugin(user, "p", manifest("p"), f"open({str(marker)!r}, 'w').close()\ndef register(api): pass\n")
    (info,) = m.discover()
    assert info.state is PluginState.DISCOVERED and not marker.exists()
    m.load_all()
    assert marker.exists()


@pytest.mark.parametrize(("toml", "code", "reason"), [
    (None, "def register(api): pass", "no plugin.toml"),
    ("id = [", "def register(api): pass", "not valid TOML"),
    ('id = "x"', "def register(api): pass", "'name' is missing"),
    (manifest("x"), None, "entry file __init__.py is missing"),
    (manifest("x"), "raise RuntimeError('import boom')", "import failed: RuntimeError: import boom"),
    (manifest("x"), "def register(:\n", "import failed: SyntaxError"),
    (manifest("x"), "import sys\nsys.exit(3)", "import failed: SystemExit: 3"),
    (manifest("x"), "REGISTER = 1", "has no register(api) function"),
    (manifest("x"), "def register(api):\n    raise ValueError('register boom')", "register() failed: ValueError: register boom"),
    (manifest("x"), "def register(api):\n    raise SystemExit('bye')", "register() failed: SystemExit: bye"),
    (manifest("x"), "def register(api):\n    api.register_source_loader(object())", "does not implement SourceLoader"),
])
def test_broken_plugins_are_errors_with_a_reason_and_the_rest_still_load(
        tmp_path: Path, toml: str | None, code: str | None, reason: str) -> None:
    m, _paths, user = make_manager(tmp_path)
    write_plugin(user, "a-broken", toml, code)
    write_plugin(user, "b-good", manifest("good"), loader_code("good", ".good"))
    infos = {i.path.name: i for i in m.load_all()}
    assert infos["a-broken"].state is PluginState.ERROR
    assert reason in infos["a-broken"].reason
    assert "\n" not in infos["a-broken"].reason
    assert infos["b-good"].state is PluginState.ENABLED
    assert any("could not be loaded" in n for n in m.notices)


def test_register_failure_unregisters_what_it_registered_and_logs_the_traceback(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    m, _paths, user = make_manager(tmp_path)
    code = loader_code("half", ".half").replace(
        "api.register_source_loader(Loader())",
        "api.register_source_loader(Loader())\n    api.register_action('a', 'A', print)\n    raise KeyError('late')")
    write_plugin(user, "half", manifest("half"), code)
    with caplog.at_level(logging.ERROR, logger="notebooklm_local.plugins.half"):
        (info,) = m.load_all()
    assert info.state is PluginState.ERROR and info.reason == "register() failed: KeyError: 'late'"
    assert "Traceback" in info.traceback and "KeyError" in info.traceback
    assert m.registry.contributions("half") == {}
    assert "half" not in {ld.name for ld in m.source_loaders()}
    assert module_name("half") not in sys.modules
    rec = next(r for r in caplog.records if r.name == "notebooklm_local.plugins.half")
    assert "Traceback" in rec.getMessage() and "late" in rec.getMessage()
    assert m.errors() == [info] and "half" in m.debug_info()


def test_incompatible_api_or_app_version_is_not_imported(tmp_path: Path) -> None:
    m, _paths, user = make_manager(tmp_path)
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w').close()\ndef register(api): pass\n"
    write_plugin(user, "future", manifest("future", api='["2", "3"]'), code)
    write_plugin(user, "newer", manifest("newer", extra='min_app_version = "99.1"\n'), code)
    infos = {i.id: i for i in m.load_all()}
    assert infos["future"].state is PluginState.INCOMPATIBLE
    assert "needs plugin API 2, 3" in infos["future"].reason and "supports 1" in infos["future"].reason
    assert infos["newer"].state is PluginState.INCOMPATIBLE and "99.1 or newer" in infos["newer"].reason
    assert not marker.exists()


def test_two_plugins_with_the_same_id_the_second_is_refused_both_listed(tmp_path: Path) -> None:
    m, _paths, user = make_manager(tmp_path)
    write_plugin(user, "one", manifest("my-plug"), loader_code("first", ".one"))
    write_plugin(user, "two", manifest("my-plug"), loader_code("second", ".two"))
    write_plugin(user, "three", manifest("my_plug"), loader_code("third", ".three"))  # the same module name
    infos = m.load_all()
    assert [(i.path.name, i.state) for i in infos] == [
        ("one", PluginState.ENABLED), ("three", PluginState.ERROR), ("two", PluginState.ERROR)]
    assert "duplicate plugin id 'my-plug'" in infos[2].reason and str(user / "one") in infos[2].reason
    assert "duplicate plugin id 'my_plug'" in infos[1].reason
    names = {ld.name for ld in m.source_loaders()}
    assert "first" in names and not {"second", "third"} & names
    assert m.get("my-plug").path.name == "one"
    with pytest.raises(NotebookError, match="cannot be enabled"):
        m.enable("my_plug")


def test_a_user_plugin_cannot_take_a_bundled_plugins_id(tmp_path: Path) -> None:
    m, _paths, user = make_manager(tmp_path, with_bundled=True)
    write_plugin(user, "mine", manifest("docx-loader"), loader_code("mine", ".docx"))
    infos = m.load_all()
    bundled = next(i for i in infos if i.id == "docx-loader" and i.source == "bundled")
    mine = next(i for i in infos if i.source == "user")
    assert bundled.state is PluginState.ENABLED and mine.state is PluginState.ERROR
    assert "duplicate" in mine.reason and "bundled" in mine.reason


def test_files_and_broken_links_in_the_plugins_folder(tmp_path: Path) -> None:
    m, _paths, user = make_manager(tmp_path)
    (user / "README.md").write_text("about plugins", encoding="utf-8")
    (user / "my_plugin.zip").write_bytes(b"PK\x03\x04")
    (user / ".hidden").mkdir()
    (user / "__pycache__").mkdir()
    os.symlink(tmp_path / "gone", user / "dangling")
    real = write_plugin(tmp_path / "elsewhere", "linked", manifest("linked"), loader_code("linked", ".lnk"))
    os.symlink(real, user / "linked")  # a link to a plugin folder is followed (handy while developing)
    infos = {i.path.name: i for i in m.load_all()}
    assert set(infos) == {"my_plugin.zip", "dangling", "linked"}
    assert infos["my_plugin.zip"].state is PluginState.ERROR and "is a file, not a plugin folder" in infos["my_plugin.zip"].reason
    assert infos["dangling"].state is PluginState.ERROR and "broken link" in infos["dangling"].reason
    assert infos["linked"].state is PluginState.ENABLED


def test_missing_plugin_roots_are_fine(tmp_path: Path) -> None:
    m, _paths, user = make_manager(tmp_path)
    user.rmdir()
    assert m.load_all() == [] and m.notices == []


def test_the_plugin_folder_itself_being_a_file(tmp_path: Path) -> None:
    from notebooklm_local.core.paths import app_paths
    from notebooklm_local.extensions.manager import PluginManager

    f = tmp_path / "plugins-file"
    f.write_text("not a folder", encoding="utf-8")
    m = PluginManager(app_paths().ensure(), Settings(), bundled_dir=tmp_path / "none", user_dir=f, safe_mode=False)
    assert m.load_all() == []
    assert any("Cannot list the plugins" in n for n in m.notices)


# ---------------------------------------------------------------------------------------------
# Safe mode and strict mode


def test_safe_mode_loads_none_and_says_so(tmp_path: Path) -> None:
    m, _paths, user = make_manager(tmp_path, safe_mode=True, with_bundled=True)
    marker = tmp_path / "ran"
    write_plugin(user, "p", manifest("p"), f"open({str(marker)!r}, 'w').close()\ndef register(api): pass\n")
    infos = m.load_all()
    assert infos and not marker.exists()
    assert all(i.state is not PluginState.ENABLED for i in infos)
    assert next(i for i in infos if i.id == "p").reason == "not loaded: safe mode (--safe-mode)"
    assert any(n.startswith("Safe mode (--safe-mode): no plugins loaded") for n in m.notices)
    assert {o for o, _ in m.registry.source_loaders.owned()} == {"builtin"}


def test_the_no_plugins_environment_variable_is_safe_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTEBOOKLM_LOCAL_NO_PLUGINS", "1")
    m, _paths, user = make_manager(tmp_path, safe_mode=None)
    write_plugin(user, "p", manifest("p"), loader_code("p", ".p"))
    (info,) = m.load_all()
    assert info.state is PluginState.DISCOVERED and "NOTEBOOKLM_LOCAL_NO_PLUGINS=1" in info.reason
    monkeypatch.setenv("NOTEBOOKLM_LOCAL_NO_PLUGINS", "0")
    m2, _paths, _user = make_manager(tmp_path, safe_mode=None)
    assert m2.load_all()[0].state is PluginState.ENABLED


def test_strict_mode_reraises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTEBOOKLM_LOCAL_STRICT_PLUGINS", "1")
    m, _paths, user = make_manager(tmp_path)
    write_plugin(user, "p", manifest("p"), "def register(api):\n    raise ValueError('strict boom')\n")
    with pytest.raises(ValueError, match="strict boom"):
        m.load_all()
    assert m.get("p").state is PluginState.ERROR and m.registry.contributions("p") == {}


# ---------------------------------------------------------------------------------------------
# Containment of calls into plugins


def test_a_loader_that_raises_gives_a_clear_error_naming_the_plugin_and_adding_goes_on(tmp_path: Path) -> None:
    from notebooklm_local.workspace import open_library

    m, paths, user = make_manager(tmp_path)
    write_plugin(user, "bad", manifest("bad-loader"), loader_code("bad", ".bad", body="raise ZeroDivisionError('oops')"))
    write_plugin(user, "picky", manifest("picky"), loader_code("picky", ".pick").replace(
        'return ref.path is not None and ref.path.suffix.lower() == ".pick"', "raise RuntimeError('can_load boom')"))
    m.load_all()
    loaders = {ld.name: ld for ld in m.source_loaders()}
    (tmp_path / "x.bad").write_text("text", encoding="utf-8")
    with pytest.raises(SourceLoadError) as e:
        loaders["bad"].load(SourceRef(path=tmp_path / "x.bad"), CancelToken())
    assert "'bad-loader' plugin failed to read" in str(e.value) and "ZeroDivisionError: oops" in str(e.value)
    assert loaders["picky"].can_load(SourceRef(path=tmp_path / "x.pick")) is False
    assert len(m.get("bad-loader").runtime_errors) == 1 and len(m.get("picky").runtime_errors) == 1

    lib = open_library(paths, Settings(), registry=m.registry, with_index=False)
    lib.create_notebook("NB")
    (tmp_path / "ok.txt").write_text("Plain text is still added.", encoding="utf-8")
    report = lib.add("NB", [str(tmp_path / "x.bad"), str(tmp_path / "ok.txt")])
    assert [s.title for s in report.added] == ["ok"]
    (shown, message), = report.failed
    assert shown.endswith("x.bad") and "'bad-loader' plugin failed" in message
    lib.library.close()


def test_a_loader_returning_garbage(tmp_path: Path) -> None:
    m, _paths, user = make_manager(tmp_path)
    write_plugin(user, "g", manifest("g"), loader_code("g", ".g", body="return 'not a document'"))
    m.load_all()
    (tmp_path / "x.g").write_text("t", encoding="utf-8")
    ld = next(ld for ld in m.source_loaders() if ld.name == "g")
    with pytest.raises(SourceLoadError, match="returned str, not a document"):
        ld.load(SourceRef(path=tmp_path / "x.g"), CancelToken())


EXPORTER = '''
class Exporter:
    name = "boom"
    description = "always fails"

    def export(self, notes, target, *, notebook_name, sources, force):
        raise OSError("disk on fire")


def register(api):
    api.register_exporter(Exporter())
'''


def test_an_exporter_that_raises_is_an_export_error(tmp_path: Path) -> None:
    m, _paths, user = make_manager(tmp_path)
    write_plugin(user, "e", manifest("exp"), EXPORTER)
    m.load_all()
    exporters = {e.name: e for e in m.exporters()}
    assert list(exporters) == ["markdown", "boom"]
    note = Note("n1", "nb", "T", "body")
    with pytest.raises(ExportError, match="'exp' plugin failed to export .*OSError: disk on fire"):
        exporters["boom"].export([note], tmp_path / "out", notebook_name="NB", sources=[], force=False)
    written = exporters["markdown"].export([note], tmp_path / "md", notebook_name="NB", sources=[], force=False)
    assert [p.name for p in written] == ["T.md"]


def test_an_exporter_name_clash_fails_register(tmp_path: Path) -> None:
    m, _paths, user = make_manager(tmp_path)
    write_plugin(user, "e", manifest("exp"), EXPORTER.replace('"boom"', '"Markdown"'))
    (info,) = m.load_all()
    assert info.state is PluginState.ERROR and "already registered (by builtin)" in info.reason


TTS = '''
class Engine:
    name = "flaky"

    def unavailable_reason(self):
        raise RuntimeError("cannot even check")

    def voices(self, language=""):
        return []

    def default_voices(self, language=""):
        return ("a", "b")

    def synthesize(self, text, voice, *, rate_wpm=165, cancel=None):
        raise RuntimeError("no sound")


def register(api):
    api.register_tts_engine(Engine())
'''


def test_a_tts_engine_that_raises_is_unavailable_and_pick_engine_falls_back(tmp_path: Path) -> None:
    from notebooklm_local.core.tts import TTSError, Voice

    class Working:
        name = "working"

        def unavailable_reason(self) -> str | None:
            return None

        def voices(self, language: str = "") -> list[Voice]:
            return []

        def default_voices(self, language: str = "") -> tuple[str, str]:
            return ("x", "y")

        def synthesize(self, text: str, voice: str, *, rate_wpm: int = 165,
                       cancel: CancelToken | None = None) -> tuple[bytes, int]:
            return b"\0\0", 16000

    m, _paths, user = make_manager(tmp_path)
    write_plugin(user, "t", manifest("flaky-tts"), TTS)
    m.load_all()
    flaky = next(e for e in m.tts_engines() if e.name == "flaky")
    assert "'flaky-tts' plugin failed" in (flaky.unavailable_reason() or "")
    assert pick_engine([flaky, Working()], "flaky").name == "working"
    with pytest.raises(TTSError, match="RuntimeError: no sound"):
        flaky.synthesize("hi", "a")


def test_prompt_templates_are_validated_and_reach_the_template_store(tmp_path: Path) -> None:
    from notebooklm_local.workspace import template_store

    good = 'name = "plug_tpl"\nuser = "Summarise {{ text }}"\n[variables]\ntext = "t"\n'
    code = f"def register(api):\n    api.register_prompt_template({good!r})\n"
    m, paths, user = make_manager(tmp_path)
    write_plugin(user, "good", manifest("tpl-good"), code)
    write_plugin(user, "bad", manifest("tpl-bad"), code.replace("{{ text }}", "{{ nope }}"))
    write_plugin(user, "clash", manifest("tpl-clash"), code.replace("plug_tpl", "chat_answer"))
    infos = {i.id: i for i in m.load_all()}
    assert infos["tpl-good"].state is PluginState.ENABLED
    assert "unknown variable(s): nope" in infos["tpl-bad"].reason
    assert "a built-in template is named 'chat_answer'" in infos["tpl-clash"].reason
    store = template_store(paths, m.registry)
    assert "plug_tpl" in store.names() and store.get("plug_tpl").origin == "plugin:tpl-good"
    assert store.get("chat_answer").origin == "default"


def test_actions_run_contained(tmp_path: Path) -> None:
    from notebooklm_local.extensions.api import ActionContext

    code = ("def ok(ctx):\n    return f'hello {ctx.notebook_name}'\n"
            "def bad(ctx):\n    return 1 / 0\n"
            "def register(api):\n    api.register_action('ok', 'Say hello', ok)\n"
            "    api.register_action('bad', 'Divide', bad)\n")
    m, _paths, user = make_manager(tmp_path)
    write_plugin(user, "a", manifest("acts"), code)
    m.load_all()
    ok, bad = m.actions()
    assert (ok.key, ok.label) == ("acts:ok", "Say hello")
    assert m.run_action(ok, ActionContext(notebook_name="NB")) == "hello NB"
    with pytest.raises(NotebookError, match="'acts' plugin failed in action 'Divide': ZeroDivisionError"):
        m.run_action(bad)


def test_settings_data_dir_and_notify(tmp_path: Path) -> None:
    code = ("def register(api):\n"
            "    api.settings['runs'] = api.settings.get('runs', 0) + 1\n"
            "    api.settings.save()\n"
            "    (api.data_dir / 'cache.txt').write_text('x')\n"
            "    api.notify('ready', 'warning')\n")
    m, paths, user = make_manager(tmp_path)
    write_plugin(user, "s", manifest("setty"), code)
    m.load_all()
    m2, _paths, _user = make_manager(tmp_path)
    m2.load_all()
    assert (paths.config / "plugin-settings" / "setty.toml").read_text(encoding="utf-8").strip() == "runs = 2"
    assert (paths.data / "plugin-data" / "setty" / "cache.txt").is_file()
    assert "setty: ready" in m.notices


# ---------------------------------------------------------------------------------------------
# Enable / disable


def test_enable_disable_persist_in_settings_and_take_effect_now(tmp_path: Path) -> None:
    marker = tmp_path / "unregistered"
    code = loader_code("tog", ".tog") + f"\n\ndef unregister():\n    open({str(marker)!r}, 'w').close()\n"
    m, paths, user = make_manager(tmp_path)
    write_plugin(user, "t", manifest("tog"), code)
    m.load_all()
    info = m.disable("tog")
    assert info.state is PluginState.DISABLED and marker.exists()
    assert "tog" not in {ld.name for ld in m.source_loaders()} and module_name("tog") not in sys.modules
    assert load_settings(paths.settings_file).disabled_plugins == ["tog"]

    m2, _p, _u = make_manager(tmp_path, load_settings(paths.settings_file))
    assert m2.load_all()[0].state is PluginState.DISABLED
    assert m2.enable("tog").state is PluginState.ENABLED
    assert "tog" in {ld.name for ld in m2.source_loaders()}
    assert load_settings(paths.settings_file).disabled_plugins == []
    with pytest.raises(NotebookError, match="No plugin with id 'nope'. Known plugins: tog"):
        m2.enable("nope")


def test_off_by_default_plugins_stay_off_until_enabled(tmp_path: Path) -> None:
    m, paths, user = make_manager(tmp_path)
    write_plugin(user, "o", manifest("optin", extra="enabled_by_default = false\n"), loader_code("o", ".o"))
    (info,) = m.load_all()
    assert info.state is PluginState.DISABLED and "off by default" in info.reason
    m.enable("optin")
    m2, _p, _u = make_manager(tmp_path, load_settings(paths.settings_file))
    assert m2.load_all()[0].state is PluginState.ENABLED
    m2.disable("optin")
    m3, _p, _u = make_manager(tmp_path, load_settings(paths.settings_file))
    assert m3.load_all()[0].state is PluginState.DISABLED


def test_enabling_a_failed_plugin_tries_again(tmp_path: Path) -> None:
    m, _paths, user = make_manager(tmp_path)
    d = write_plugin(user, "f", manifest("fixme"), "def register(api):\n    raise RuntimeError('broken')\n")
    assert m.load_all()[0].state is PluginState.ERROR
    (d / "__init__.py").write_text(loader_code("fixed", ".fix"), encoding="utf-8")
    info = m.enable("fixme")
    assert info.state is PluginState.ENABLED and info.traceback == ""


def test_enable_in_safe_mode_is_remembered_but_not_loaded(tmp_path: Path) -> None:
    m, paths, user = make_manager(tmp_path, Settings(disabled_plugins=["p"]), safe_mode=True)
    write_plugin(user, "p", manifest("p"), loader_code("p", ".p"))
    m.load_all()
    info = m.enable("p")
    assert info.state is PluginState.DISCOVERED and "safe mode" in info.reason
    assert load_settings(paths.settings_file).disabled_plugins == []


# ---------------------------------------------------------------------------------------------
# The runtime and the bundled plugins


def test_runtime_reuses_the_manager_until_the_configuration_changes(tmp_path: Path) -> None:
    from notebooklm_local import workspace
    from notebooklm_local.core.paths import app_paths
    from notebooklm_local.extensions import runtime

    paths = app_paths().ensure()
    a = runtime.plugin_manager(paths, Settings())
    assert runtime.plugin_manager(paths, Settings()) is a
    assert {i.id for i in a.plugins()} >= {"docx-loader", "obsidian-export", "piper_tts", "example-plugin"}
    b = runtime.plugin_manager(paths, Settings(disabled_plugins=["docx-loader"]))
    assert b is not a and b.get("docx-loader").state is PluginState.DISABLED
    c = runtime.plugin_manager(paths, Settings(), safe_mode=True)
    assert c.safe_mode and all(i.state is not PluginState.ENABLED for i in c.plugins())
    lib = workspace.open_library(paths, Settings(), registry=c.registry, with_index=False)
    assert ".docx" not in lib.file_extensions
    lib.library.close()
    lib = workspace.open_library(paths, Settings(), with_index=False)
    assert {".docx", ".epub"} <= lib.file_extensions
    lib.library.close()


def test_builtins_register_through_the_facade() -> None:
    from notebooklm_local.extensions.builtins import BUILTIN_ID, register

    registry = Registry()
    register(PluginApi(registry, BUILTIN_ID))
    assert registry.contributions(BUILTIN_ID) == {
        "source_loaders": ["pdf", "text", "html", "transcript", "youtube", "web", "paste"],
        "exporters": ["markdown"], "tts_engines": ["espeak-ng"]}


def test_bundled_plugins_have_valid_manifests_and_import_only_the_api() -> None:
    root = bundled_plugins_dir()
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
    assert {p.name for p in folders} >= {"docx_loader", "epub_loader", "obsidian_export", "piper_tts", "example_plugin"}
    for folder in folders:
        m = parse_manifest(folder)
        assert m.api == ("1",) and m.description
        for py in folder.rglob("*.py"):
            for node in ast.walk(ast.parse(py.read_text(encoding="utf-8"))):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                for n in names:
                    assert not n.startswith("notebooklm_local") or n == "notebooklm_local.extensions.api", (py, n)
    example = parse_manifest(root / "example_plugin")
    assert example.enabled_by_default is False
