"""What the composition root hands to the UI and the CLI: paths, settings, start-up notices."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from notebooklm_local.core.paths import AppPaths
from notebooklm_local.core.settings import Settings

__all__ = ["AppContext"]


@dataclass
class AppContext:
    paths: AppPaths
    settings: Settings
    safe_mode: bool = False
    notices: list[str] = field(default_factory=list)  # shown once at start (status bar / stderr)

    @property
    def chat_model_name(self) -> str:
        if self.settings.model.path:
            return Path(self.settings.model.path).name
        return "Gemma 3 270M (built-in demo model)"
