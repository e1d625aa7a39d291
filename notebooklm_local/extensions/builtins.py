"""The built-in contributions, registered through the plugin API like any plugin (dogfooding).

The source loaders (PDF, text/Markdown, HTML files, transcripts, YouTube, web pages, pasted text), the
Markdown notes exporter and the espeak-ng text-to-speech engine. If a built-in needed something the
API lacks, the API would be incomplete.
"""

from __future__ import annotations

from notebooklm_local.extensions.api import PluginApi
from notebooklm_local.extensions.points import Registry

__all__ = ["register", "builtin_registry", "BUILTIN_ID"]

BUILTIN_ID = "builtin"


def register(api: PluginApi) -> None:
    import shutil

    from notebooklm_local.core.exporters import MarkdownExporter
    from notebooklm_local.services.loaders.pdf import PdfLoader
    from notebooklm_local.services.loaders.text import PastedTextLoader, TextLoader
    from notebooklm_local.services.loaders.transcripts import TranscriptFileLoader
    from notebooklm_local.services.loaders.web import HtmlFileLoader, WebLoader
    from notebooklm_local.services.loaders.youtube import YouTubeLoader
    from notebooklm_local.services.tts.espeak import EspeakEngine

    # order matters: the first loader that accepts a reference wins (YouTube before generic web)
    for loader in (PdfLoader(), TextLoader(), HtmlFileLoader(), TranscriptFileLoader(), YouTubeLoader(),
                   WebLoader(), PastedTextLoader()):
        api.register_source_loader(loader)
    api.register_exporter(MarkdownExporter())
    # the default podcast voice engine (the classic `espeak` takes the same options when espeak-ng is
    # absent); lazy: nothing runs until it is asked whether it is available
    binary = "espeak" if not shutil.which("espeak-ng") and shutil.which("espeak") else "espeak-ng"
    api.register_tts_engine(EspeakEngine(binary))


def builtin_registry() -> Registry:
    """A registry holding only the built-ins (no plugins: see ``runtime.load_plugins`` for those)."""
    registry = Registry()
    register(PluginApi(registry, BUILTIN_ID))
    return registry
