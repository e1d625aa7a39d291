"""Writing plugin folders for tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

from notebooklm_local.core.paths import AppPaths, app_paths
from notebooklm_local.core.settings import Settings
from notebooklm_local.extensions.manager import PluginManager


def manifest(pid: str, *, api: str = '["1"]', extra: str = "", name: str | None = None) -> str:
    return (f'id = "{pid}"\nname = "{name or pid.title()}"\nversion = "0.1.0"\napi = {api}\n'
            f'description = "A test plugin."\n{extra}')


def write_plugin(root: Path, folder: str, toml: str | None, code: str | None = None) -> Path:
    """A plugin folder under ``root`` with this manifest (None: none) and ``__init__.py`` (None: none)."""
    d = root / folder
    d.mkdir(parents=True, exist_ok=True)
    if toml is not None:
        (d / "plugin.toml").write_text(toml, encoding="utf-8")
    if code is not None:
        (d / "__init__.py").write_text(textwrap.dedent(code), encoding="utf-8")
    return d


LOADER_CODE = '''
from notebooklm_local.extensions.api import Block, LoadedDocument, SourceLoadError


class Loader:
    name = "{name}"
    extensions = ("{ext}",)

    def can_load(self, ref):
        return ref.path is not None and ref.path.suffix.lower() == "{ext}"

    def load(self, ref, cancel):
        {body}


def register(api):
    api.register_source_loader(Loader())
'''


def loader_code(name: str, ext: str, body: str = 'return LoadedDocument.from_blocks("x", ref.path.stem, '
                '[Block(ref.path.read_text())])') -> str:
    return LOADER_CODE.format(name=name, ext=ext, body=body)


def make_manager(tmp_path: Path, settings: Settings | None = None, *, safe_mode: bool | None = False,
                 persist: bool = True, with_bundled: bool = False) -> tuple[PluginManager, AppPaths, Path]:
    """A manager over ``tmp_path/user`` (and an empty bundled root unless ``with_bundled``)."""
    paths = app_paths().ensure()
    user = tmp_path / "user-plugins"
    user.mkdir(exist_ok=True)
    bundled = None if with_bundled else tmp_path / "no-bundled"
    m = PluginManager(paths, settings or Settings(), safe_mode=safe_mode, bundled_dir=bundled, user_dir=user,
                      persist=persist)
    return m, paths, user
