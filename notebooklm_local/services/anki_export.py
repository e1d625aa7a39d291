"""Flashcards and quizzes as an Anki package (.apkg) through ``genanki``.

Cards use a cloze note type (Text with ``{{c1::answer}}``, Extra, Source); quiz questions a basic note type
(Question with the lettered options on the front; Answer with the right option and the cited sentence on
the back; Source). Model and deck ids are derived from fixed names (and the deck's name), note GUIDs from
the card ids, so exporting the same deck again updates the notes in Anki instead of duplicating them.
The file is written next to its destination and renamed into place.
"""

from __future__ import annotations

import hashlib
import html
import os
import uuid
from pathlib import Path

from notebooklm_local.core.cards import Card, CardDeck, Quiz
from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.extractive import LABEL

__all__ = ["write_apkg", "stable_id", "CLOZE_MODEL_ID", "QUIZ_MODEL_ID"]


def stable_id(name: str) -> int:
    """A deterministic 31-bit id (Anki model and deck ids) for ``name``."""
    return (1 << 30) + int(hashlib.sha1(name.encode("utf-8"), usedforsecurity=False).hexdigest()[:8], 16) % (1 << 30)


CLOZE_MODEL_ID = stable_id("notebooklm-local cloze v1")
QUIZ_MODEL_ID = stable_id("notebooklm-local quiz v1")

_CSS = """.card { font-family: sans-serif; font-size: 20px; text-align: left; color: black; background-color: white; }
.cloze { font-weight: bold; color: #1a3d8f; }
.source { font-size: 14px; color: #666; margin-top: 1em; }
.options { list-style: none; padding-left: 0; }
"""


def _models() -> tuple[object, object]:
    import genanki

    cloze = genanki.Model(
        CLOZE_MODEL_ID, "NotebookLM Local cloze",
        fields=[{"name": "Text"}, {"name": "Extra"}, {"name": "Source"}],
        templates=[{"name": "Cloze", "qfmt": "{{cloze:Text}}",
                    "afmt": "{{cloze:Text}}<br>{{Extra}}<div class=source>{{Source}}</div>"}],
        css=_CSS, model_type=genanki.Model.CLOZE,
    )
    basic = genanki.Model(
        QUIZ_MODEL_ID, "NotebookLM Local quiz",
        fields=[{"name": "Question"}, {"name": "Answer"}, {"name": "Source"}],
        templates=[{"name": "Question", "qfmt": "{{Question}}",
                    "afmt": "{{FrontSide}}<hr id=answer>{{Answer}}<div class=source>{{Source}}</div>"}],
        css=_CSS,
    )
    return cloze, basic


def _esc(text: str) -> str:
    return html.escape(" ".join(text.split()), quote=False)


def _no_cloze(text: str) -> str:
    """Text that Anki cannot read as cloze markup."""
    return text.replace("{{", "{&#8203;{").replace("}}", "}&#8203;}")


def _source(card: Card) -> str:
    c = card.citation
    return _esc(c.source_title) + (f", {_esc(c.location)}" if c.location else "")


def _cloze_html(card: Card) -> str:
    a, b = card.answer_span
    t = card.sentence.text
    return (_no_cloze(_esc(t[:a]) + (" " if t[:a][-1:].isspace() else "")) + "{{c1::" + _no_cloze(_esc(card.answer))
            + "}}" + _no_cloze((" " if t[b:][:1].isspace() else "") + _esc(t[b:])))


def write_apkg(result: CardDeck | Quiz, path: Path, *, deck_name: str = "") -> Path:
    """Write the cards (or quiz questions) of ``result`` as an .apkg at ``path``; returns the path."""
    import genanki

    if not isinstance(result, (CardDeck, Quiz)):
        raise NotebookError("Only flashcards and quizzes export to Anki.")
    name = " ".join((deck_name or result.title or "NotebookLM Local").split())[:200]
    cloze_model, quiz_model = _models()
    deck = genanki.Deck(stable_id("deck:" + name), name, description=_esc(getattr(result, "label", LABEL) or LABEL))
    if isinstance(result, CardDeck):
        for card in result.cards:
            if card.question:  # a written question/answer card: the basic note type
                back = (f"<b>{_no_cloze(_esc(card.answer))}</b>"
                        + (f"<br>{_no_cloze(_esc(card.explanation))}" if card.explanation else "")
                        + f"<br>\u201c{_no_cloze(_esc(card.sentence.text))}\u201d")
                deck.add_note(genanki.Note(
                    model=quiz_model, fields=[_no_cloze(_esc(card.question)), back, _source(card)],
                    guid=genanki.guid_for("card", card.id), tags=["notebooklm-local", "written"]))
                continue
            deck.add_note(genanki.Note(
                model=cloze_model, fields=[_cloze_html(card), "", _source(card)],
                guid=genanki.guid_for("card", card.id), tags=["notebooklm-local", "cloze"]))
    else:
        for q in result.questions:
            options = "".join(f"<li>{chr(65 + k)}) {_no_cloze(_esc(o))}</li>" for k, o in enumerate(q.options))
            front = f"{_no_cloze(_esc(q.stem))}<ul class=options>{options}</ul>"
            back = (f"<b>{chr(65 + q.correct)}) {_no_cloze(_esc(q.answer))}</b><br>"
                    f"\u201c{_no_cloze(_esc(q.explanation))}\u201d")
            deck.add_note(genanki.Note(
                model=quiz_model, fields=[front, back, _source(q.card)],
                guid=genanki.guid_for("quiz", q.card.id), tags=["notebooklm-local", "quiz"]))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        genanki.Package(deck).write_to_file(str(tmp))
        os.replace(tmp, path)
    except OSError as e:
        raise NotebookError(f"Cannot write {path}: {e}") from e
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
