"""The built-in loaders (registered through the plugin API like any plugin) and the espeak-ng TTS engine."""

from __future__ import annotations

from notebooklm_local.extensions.api import PluginApi
from notebooklm_local.extensions.points import Registry

__all__ = ["register", "builtin_registry"]

BUILTIN_ID = "builtin"


def register(api: PluginApi) -> None:
    from notebooklm_local.services.loaders.pdf import PdfLoader
    from notebooklm_local.services.loaders.text import PastedTextLoader, TextLoader
    from notebooklm_local.services.loaders.transcripts import TranscriptFileLoader
    from notebooklm_local.services.loaders.web import HtmlFileLoader, WebLoader
    from notebooklm_local.services.loaders.youtube import YouTubeLoader

    # order matters: the first loader that accepts a reference wins (YouTube before generic web)
    for loader in (PdfLoader(), TextLoader(), HtmlFileLoader(), TranscriptFileLoader(), YouTubeLoader(),
                   WebLoader(), PastedTextLoader()):
        api.register_source_loader(loader)


def builtin_registry() -> Registry:
    import shutil

    from notebooklm_local.services.tts.espeak import EspeakEngine

    registry = Registry()
    register(PluginApi(registry, BUILTIN_ID))
    # the default podcast voice engine (the classic `espeak` takes the same options when espeak-ng is
    # absent); lazy: nothing runs until it is asked whether it is available
    binary = "espeak" if not shutil.which("espeak-ng") and shutil.which("espeak") else "espeak-ng"
    registry.tts_engines.register(BUILTIN_ID, EspeakEngine(binary))
    return registry
