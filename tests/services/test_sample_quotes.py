"""A newcomer's first question on the sample notebook, with nothing downloaded (the app's default settings:
the built-in MiniLM embedder and the demo chat model): a cited Quotes answer that holds the answer, and the
generative model is never loaded."""

from __future__ import annotations

from typing import Any

import pytest

from notebooklm_local.core.paths import app_paths
from notebooklm_local.core.settings import Settings

pytestmark = [pytest.mark.model]


def test_first_question_on_the_sample_notebook_gets_cited_quotes(installed_model: Any) -> None:
    from notebooklm_local.extensions.sample import SAMPLE_NOTEBOOK, ensure_sample_notebook
    from notebooklm_local.workspace import open_chat, open_library

    paths = app_paths().ensure()
    settings = Settings()  # what `init` writes
    lib = open_library(paths, settings)
    ensure_sample_notebook(lib)
    chat = open_chat(paths, settings, library=lib)
    try:
        res = chat.ask(SAMPLE_NOTEBOOK, "How much memory does a 7B model need at 4 bits?", new_session=True)
        assert res.mode == "quotes" and res.generation is None and not chat.engine.loaded
        assert res.label == "Quoted from your sources \u2014 nothing generated"
        assert not res.answer.not_found and res.answer.citations
        assert any("4 GB" in s.text for s in res.answer.sentences)
        for c in res.answer.citations:
            text, _ = lib.library.source_text(c.source_id)
            assert text[c.start:c.end] == c.quote  # verbatim
        # a question the sample does not answer is declined, not answered with unrelated sentences
        other = chat.ask(SAMPLE_NOTEBOOK, "Who won the 1998 football world cup?", new_session=True)
        assert other.answer.not_found and not other.answer.citations
    finally:
        chat.engine.close()
        lib.library.close()
