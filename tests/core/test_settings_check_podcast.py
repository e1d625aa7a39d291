"""The podcast length accepts the podcast tab's names (short/default/long) and the older "medium"."""

from __future__ import annotations

from notebooklm_local.core.settings import Settings
from notebooklm_local.core.settings_check import validate_settings


def test_podcast_length_names() -> None:
    for value in ("short", "default", "long", "medium"):
        s = Settings()
        s.studio.podcast_length = value
        assert not [m for _, m in validate_settings(s) if "podcast length" in m], value
    s = Settings()
    s.studio.podcast_length = "epic"
    assert any("podcast length" in m for _, m in validate_settings(s))
