from __future__ import annotations

import stat
from pathlib import Path

import pytest

from notebooklm_local.core import paths as paths_mod
from notebooklm_local.core.paths import app_paths, bundled_plugins_dir, resources_dir


def test_override_maps_everything_under_one_base(app_home: Path) -> None:
    p = app_paths()
    assert p.config == app_home.resolve() / "config"
    assert p.data == app_home.resolve() / "data"
    assert p.cache == app_home.resolve() / "cache"
    assert p.logs == app_home.resolve() / "logs"
    assert p.settings_file.parent == p.config


def test_explicit_basedir_wins(tmp_path: Path) -> None:
    p = app_paths(tmp_path / "other")
    assert p.data == (tmp_path / "other" / "data").resolve()


def test_ensure_creates_private_dirs_and_cachedir_tag(app_home: Path) -> None:
    p = app_paths().ensure()
    for d in (p.config, p.data, p.cache, p.logs, p.models):
        assert d.is_dir()
        assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert (p.cache / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")


def test_guard_refuses_real_home_during_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTEBOOKLM_LOCAL_HOME")
    with pytest.raises(AssertionError, match="tests must set"):
        app_paths()


def test_resources_and_plugins_resolve_in_checkout() -> None:
    assert (resources_dir() / "icons" / "notebooklm-local.svg").is_file()
    assert (bundled_plugins_dir() / "README.md").is_file()


def test_resources_prefer_pyinstaller_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "resources").mkdir()
    monkeypatch.setattr(paths_mod.sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resources_dir() == tmp_path / "resources"
