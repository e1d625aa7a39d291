"""Shared fixtures: every test gets its own data dir; Qt runs offscreen; the real tiny model once per session."""

from __future__ import annotations

import os
import shutil
import signal
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("NOTEBOOKLM_LOCAL_NO_FIRST_RUN", "1")  # the welcome dialog has its own tests
# Ctrl+C tests need SIGINT delivered: a suite started in the background of a non-interactive shell (e.g.
# `nohup make test &`) inherits SIGINT ignored, and so would every child process it starts.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

REPO = Path(__file__).resolve().parent.parent
SHARED_MODELS = REPO.parent / "shared" / "models"


@pytest.fixture(scope="session")
def default_embedder_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The built-in embedder (MiniLM GGUF) and its sidecar, converted once for the whole session."""
    from notebooklm_local.core.paths import AppPaths
    from notebooklm_local.services.models import ensure_default_embedder

    root = tmp_path_factory.mktemp("embedder-home")
    paths = AppPaths(root / "config", root / "data", root / "cache", root / "logs").ensure()
    target = ensure_default_embedder(paths)
    return [target, *target.parent.glob(target.name + ".*.json")]


def _link_into(files: list[Path], folder: Path) -> None:
    for d in (*reversed(folder.parents[:2]), folder):  # home/data/models, private like AppPaths.ensure makes them
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
    for f in files:
        try:
            os.link(f, folder / f.name)
        except OSError:
            shutil.copyfile(f, folder / f.name)


@pytest.fixture(autouse=True)
def app_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch,
             default_embedder_files: list[Path]) -> Path:
    """NOTEBOOKLM_LOCAL_HOME -> a fresh temp dir, so no test touches the user's real directories.

    The built-in embedder is linked in as ``init`` would have made it (converted once per session, not
    once per test); tests of the conversion itself use data dirs of their own. The home is not inside
    the test's ``tmp_path``, which stays empty for the test's own files.
    """
    home = tmp_path_factory.mktemp("app") / "nbl-home"
    monkeypatch.setenv("NOTEBOOKLM_LOCAL_HOME", str(home))
    _link_into(default_embedder_files, home / "data" / "models")
    return home


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded default GGUF (Gemma 3 270M), assembled once for the whole session."""
    from notebooklm_local.core.paths import AppPaths
    from notebooklm_local.services.models import ensure_default_model

    root = tmp_path_factory.mktemp("model-home")
    paths = AppPaths(root / "config", root / "data", root / "cache", root / "logs").ensure()
    return ensure_default_model(paths)


@pytest.fixture
def installed_model(app_home: Path, tiny_model_path: Path) -> Path:
    """Put the tiny model into this test's data dir (hard link when possible: no 250 MB copy)."""
    target = app_home / "data" / "models" / tiny_model_path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(tiny_model_path, target)
    except OSError:
        shutil.copyfile(tiny_model_path, target)
    return target


def cli_exe() -> list[str]:
    """Run the installed console script's code with this interpreter."""
    return [sys.executable, "-m", "notebooklm_local"]
