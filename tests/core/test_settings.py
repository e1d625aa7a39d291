from __future__ import annotations

from pathlib import Path

import pytest

from notebooklm_local.core.errors import ConfigError
from notebooklm_local.core.settings import SCHEMA_VERSION, Settings, load_settings, parse_settings, save_settings


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    s = load_settings(tmp_path / "nope.toml")
    assert s == Settings()
    assert s.schema_version == SCHEMA_VERSION


def test_roundtrip(tmp_path: Path) -> None:
    s = Settings()
    s.model.n_ctx = 8192
    s.model.path = "/models/x.gguf"
    s.disabled_plugins = ["a", "b"]
    f = tmp_path / "settings.toml"
    save_settings(s, f)
    assert f"schema_version = {SCHEMA_VERSION}" in f.read_text()
    assert load_settings(f) == s
    assert not list(tmp_path.glob(".settings-*")), "temp file left behind"


def test_corrupt_file_is_kept_aside_and_defaults_used(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    f = tmp_path / "settings.toml"
    f.write_text("this is [not toml", encoding="utf-8")
    s = load_settings(f)
    assert s == Settings()
    backups = list(tmp_path.glob("settings.toml.bad-*"))
    assert len(backups) == 1 and backups[0].read_text() == "this is [not toml"
    assert "not valid TOML" in caplog.text


def test_binary_garbage_file(tmp_path: Path) -> None:
    f = tmp_path / "settings.toml"
    f.write_bytes(b"\xff\xfe\x00garbage\x00")
    assert load_settings(f) == Settings()
    assert list(tmp_path.glob("settings.toml.bad-*"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[model]\nn_ctx = 'big'\n", "model.n_ctx"),
        ("[model]\nn_ctx = true\n", "model.n_ctx"),
        ("model = 3\n", "must be a table"),
        ("disabled_plugins = [1, 2]\n", "disabled_plugins"),
        ("schema_version = 999\n", "newer"),
        ("schema_version = 'x'\n", "schema_version"),
    ],
)
def test_invalid_values_are_clear_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_settings(text)


def test_unknown_keys_are_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    s = parse_settings("future_option = 1\n[model]\nn_ctx = 2048\n")
    assert s.model.n_ctx == 2048
    assert "future_option" in caplog.text


def test_schema_1_moves_tts_engine_into_tts_table() -> None:
    s = parse_settings('schema_version = 1\ntts_engine = "piper"\n')
    assert s.tts.engine == "piper"
    assert s.schema_version == SCHEMA_VERSION
