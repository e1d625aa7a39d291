"""``notebooklm-local config ...``: the Settings dialog's values from the command line, with its checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from notebooklm_local.app import main
from notebooklm_local.core.errors import ConfigError
from notebooklm_local.core.instance import InstanceLock
from notebooklm_local.core.paths import app_paths
from notebooklm_local.core.settings import Settings, load_settings, save_settings
from notebooklm_local.core.settings_check import parse_value, setting_keys, validate_settings


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture
def settings_file(app_home: Path) -> Path:
    return app_home / "config" / "settings.toml"


def test_set_get_list_reset_round_trip(capsys: pytest.CaptureFixture[str], settings_file: Path) -> None:
    rc, out, err = cli(capsys, "config", "set", "model.n_ctx", "8192")
    assert rc == 0 and out.strip() == "model.n_ctx = 8192 (was 4096)", err
    assert load_settings(settings_file).model.n_ctx == 8192
    for key, value in (("chat.top_k", "12"), ("ui.theme", "dark"), ("tts.rate_wpm", "200"),
                       ("output_language", "French"), ("chat.temperature", "0.7"),
                       ("chat.rewrite_followups", "off"), ("disabled_plugins", "docx-loader, example-plugin")):
        rc, out, err = cli(capsys, "config", "set", key, value)
        assert rc == 0, err
    s = load_settings(settings_file)
    assert (s.chat.top_k, s.ui.theme, s.tts.rate_wpm, s.output_language) == (12, "dark", 200, "French")
    assert s.chat.temperature == 0.7 and s.chat.rewrite_followups is False
    assert s.disabled_plugins == ["docx-loader", "example-plugin"]

    assert cli(capsys, "config", "get", "model.n_ctx")[1] == "8192\n"
    assert cli(capsys, "config", "get", "ui.theme")[1] == "dark\n"
    assert cli(capsys, "config", "get", "chat.rewrite_followups")[1] == "false\n"
    assert cli(capsys, "config", "get", "disabled_plugins")[1] == '["docx-loader", "example-plugin"]\n'

    rc, out, _ = cli(capsys, "config", "list")
    lines = out.splitlines()
    assert rc == 0 and "model.n_ctx = 8192  (default 4096)" in lines and 'ui.theme = "dark"  (default "system")' in lines
    assert "index.port = 8000" in lines and not any(line.startswith("schema_version") for line in lines)
    assert {line.split(" = ")[0] for line in lines} == set(setting_keys())
    rc, out, _ = cli(capsys, "config", "list", "--json")
    data = json.loads(out)
    assert data["model.n_ctx"] == 8192 and data["chat.rewrite_followups"] is False and data["server.timeout_s"] == 120.0
    assert set(data) == set(setting_keys())
    rc, out, _ = cli(capsys, "config", "list", "tts")
    assert rc == 0 and all(line.startswith("tts.") for line in out.splitlines()) and "tts.rate_wpm = 200" in out

    rc, out, _ = cli(capsys, "config", "reset", "model.n_ctx")
    assert rc == 0 and out.strip() == "model.n_ctx = 4096 (was 8192)"
    rc, out, _ = cli(capsys, "config", "reset", "disabled_plugins")
    assert rc == 0 and out.strip() == 'disabled_plugins = [] (was ["docx-loader", "example-plugin"])'
    s = load_settings(settings_file)
    assert s.model.n_ctx == 4096 and s.disabled_plugins == [] and s.chat.top_k == 12  # the others stay
    rc, out, _ = cli(capsys, "config", "reset", "model.n_ctx")
    assert rc == 0 and "unchanged" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("set", "model.n_ctx", "10"), "The context size must be between 512 and 1,048,576 tokens (it is 10)"),
        (("set", "ui.theme", "purple"), "The theme must be one of system, light, dark (it is 'purple')"),
        (("set", "tts.rate_wpm", "1000"), "The speaking rate must be between 80 and 450 words per minute"),
        (("set", "chat.top_k", "many"), "'chat.top_k' is a whole number, not 'many'"),
        (("set", "chat.temperature", "nan"), "'chat.temperature' is a number"),
        (("set", "server.enabled", "maybe"), "'server.enabled' is true or false"),
        (("set", "studio.host_b", "alex"), "The two podcast hosts need different names"),
        (("set", "model.path", "/no/such/model.gguf"), "The chat model file does not exist"),
        (("set", "model.nctx", "8192"), "Unknown setting 'model.nctx'. Did you mean: model.n_ctx"),
        (("set", "n_ctx", "8192"), "Did you mean: model.n_ctx, server.n_ctx"),
        (("get", "ui.them"), "Unknown setting 'ui.them'. Did you mean: ui.theme?"),
        (("reset", "chat.topk"), "Did you mean: chat.top_k"),
        (("set", "schema_version", "3"), "Unknown setting 'schema_version'"),
    ],
)
def test_bad_values_and_keys_write_nothing(capsys: pytest.CaptureFixture[str], settings_file: Path,
                                           args: tuple[str, ...], message: str) -> None:
    assert cli(capsys, "config", "set", "chat.top_k", "9")[0] == 0
    before = settings_file.read_bytes()
    rc, out, err = cli(capsys, "config", *args)
    assert rc == 1 and out == ""
    assert err.startswith("error: ") and message in err, err
    assert settings_file.read_bytes() == before
    assert not [p for p in settings_file.parent.iterdir() if p.name != settings_file.name]  # no temp or .bad file


def test_no_file_is_written_when_the_first_change_is_refused(capsys: pytest.CaptureFixture[str],
                                                             settings_file: Path) -> None:
    rc, _out, err = cli(capsys, "config", "set", "ui.theme", "purple")
    assert rc == 1 and "theme" in err and not settings_file.exists()


def test_a_problem_already_in_the_file_warns_but_does_not_block_other_keys(
    capsys: pytest.CaptureFixture[str], settings_file: Path
) -> None:
    s = Settings()
    s.tts.rate_wpm = 5  # written by hand, or by an older version
    save_settings(s, settings_file)
    rc, out, err = cli(capsys, "config", "set", "chat.top_k", "4")
    assert rc == 0 and out.strip() == "chat.top_k = 4 (was 8)"
    assert "warning: The speaking rate must be between 80 and 450" in err
    assert load_settings(settings_file).chat.top_k == 4
    rc, _out, err = cli(capsys, "config", "set", "tts.rate_wpm", "6")  # still wrong, and differently: refused
    assert rc == 1 and "(it is 6)" in err and load_settings(settings_file).tts.rate_wpm == 5
    assert cli(capsys, "config", "set", "tts.rate_wpm", "150")[0] == 0


def test_model_paths_are_stored_absolute(capsys: pytest.CaptureFixture[str], settings_file: Path,
                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    monkeypatch.chdir(tmp_path)
    rc, _out, err = cli(capsys, "config", "set", "model.embedding_path", "m.gguf")
    assert rc == 0 and "resume" in err
    assert load_settings(settings_file).model.embedding_path == str(tmp_path / "m.gguf")
    assert cli(capsys, "config", "set", "model.embedding_path", "")[0] == 0
    assert load_settings(settings_file).model.embedding_path == ""


def test_set_refuses_while_the_app_holds_the_data_dir(capsys: pytest.CaptureFixture[str], settings_file: Path) -> None:
    paths = app_paths().ensure()
    with InstanceLock(paths.lock_file):
        rc, _out, err = cli(capsys, "config", "set", "chat.top_k", "3")
        assert cli(capsys, "config", "get", "chat.top_k")[1] == "8\n"  # reading needs no lock
    assert rc == 1 and "Another notebooklm-local is using" in err and not settings_file.exists()


def test_parse_value_types() -> None:
    assert parse_value("model.extra_paths", '["/a b.gguf", "/c.gguf"]') == ["/a b.gguf", "/c.gguf"]
    assert parse_value("model.extra_paths", "") == []
    assert parse_value("server.timeout_s", "30") == 30.0
    assert parse_value("model.n_gpu_layers", "-1") == -1
    assert parse_value("output_language", "  ") == "  "
    with pytest.raises(ConfigError, match="list of strings"):
        parse_value("disabled_plugins", "[1, 2]")


def test_the_settings_dialog_uses_the_same_checks() -> None:
    from notebooklm_local.core import settings_check
    from notebooklm_local.ui import settings_dialog

    assert settings_dialog.validate_settings is settings_check.validate_settings
    for name in ("MIN_CTX", "MAX_CTX", "CHOICES", "LENGTHS", "AUDIENCES", "MIN_WPM", "MAX_WPM", "AUDIO_FORMATS"):
        assert getattr(settings_dialog, name) == getattr(settings_check, name)
    s = Settings()
    assert validate_settings(s) == []
    s.ui.theme = "purple"
    assert validate_settings(s) == [("output", "The theme must be one of system, light, dark (it is 'purple').")]


def test_ocr_of_scanned_pages_can_be_turned_off(capsys: pytest.CaptureFixture[str], settings_file: Path) -> None:
    rc, out, err = cli(capsys, "config", "set", "index.ocr", "false")
    assert rc == 0 and out.strip() == "index.ocr = false (was true)", (out, err)
    assert load_settings(settings_file).index.ocr is False
    rc, out, err = cli(capsys, "config", "set", "index.ocr", "sometimes")
    assert rc != 0 and "index.ocr" in err and load_settings(settings_file).index.ocr is False
