"""Cited chat: retrieve, budget, prompt (a template), generate, verify, persist.

One ``ask`` is: question (+ history) -> standalone retrieval query -> hybrid search over the selected
sources -> passages with short ids -> messages fitted into the context -> streaming generation ->
markers parsed and every sentence checked (``core/citations.py``) -> stored in the chat session.
The GUI and the CLI both call this; neither has its own pipeline.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from notebooklm_local.core.budget import BudgetPlan, Turn, fit_context
from notebooklm_local.core.chat_goals import (
    SETTINGS_KEY,
    ChatGoal,
    ChatGoalError,
    length_quotes,
    length_sentences,
    length_tokens,
    notebook_goal,
    persona_for_prompt,
    set_notebook_goal,
)
from notebooklm_local.core.chat_store import ChatStore
from notebooklm_local.core.citations import (
    AnswerSentence,
    CitedAnswer,
    Passage,
    answer_schema,
    build_answer,
    build_structured_answer,
    format_passages,
    not_found_answer,
    ocr_pages_in,
    repair_json,
    strip_markers,
)
from notebooklm_local.core.errors import Cancelled, NotebookError
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.llm import ChatMessage, Engine, EngineInfo, GenerationResult
from notebooklm_local.core.quotes import QuoteResult, quoted_answer, select_quotes
from notebooklm_local.core.settings import ChatSettings
from notebooklm_local.core.templates import TemplateStore
from notebooklm_local.core.textutil import content_words, split_sentences, words
from notebooklm_local.services.grounding import similarity_for
from notebooklm_local.services.library_service import Hit, LibraryService

__all__ = ["ChatService", "AskResult", "standalone_query", "MODES", "SCOPES", "QUOTES_LABEL", "STOPPED_NOTE",
           "NOTEBOOK_SEP"]

log = logging.getLogger(__name__)

_DANGLING_MARKER = re.compile(r"\[[^\]\n]{0,20}$")  # a marker cut off by the stop ("... in 2019 [")
MAX_QUERY_CHARS = 2000  # retrieval query cap (a 100 kB question still searches on its start)
HISTORY_TURNS = 6
MODES = ("auto", "generate", "quotes")  # auto: quotes when the chat model is a base (raw-completion) model
QUOTES_LABEL = "Quoted from your sources \u2014 nothing generated"
STOPPED_NOTE = "Stopped \u2014 the answer was cut off."  # a stopped answer's one mark (stored, shown)
SCOPES = ("notebook", "all")  # "all": retrieval over every notebook's ready sources (the library-wide scope)
NOTEBOOK_SEP = " \u203a "  # "Notebook › Source": a citation's source title in an all-notebooks answer
QUOTES_ENGINE = EngineInfo(kind="quotes", model="(none: quoted from the sources)", backend="")
_ANAPHORA = frozenset(
    "it its this that these those they them their he she him her his there such former latter same "
    "above one ones ça cela il elle ils elles es das dies sie".split()
)


@dataclass
class AskResult:
    question: str
    answer: CitedAnswer
    session_id: str
    retrieval_query: str
    passages: list[Passage]
    engine: EngineInfo
    generation: GenerationResult | None
    structured: bool
    template: str
    timings: dict[str, float] = field(default_factory=dict)
    cancelled: bool = False
    raw_output: str = ""
    shown_text: str = ""  # what was streamed to on_token (for structured answers: the readable sentences)
    mode: str = "generate"  # "generate" (the model wrote it) or "quotes" (source sentences, nothing generated)
    quotes: QuoteResult | None = None  # quotes mode: the selection with its per-sentence scores
    cut_off: str = ""  # a stopped answer: the sentence being written when it stopped (shown, never checked)
    goal: ChatGoal = field(default_factory=ChatGoal)  # the chat goal and response length it was asked with
    scope: str = "notebook"  # "all": retrieved from every notebook (citations name "Notebook › Source")

    @property
    def extractive(self) -> bool:
        return self.mode == "quotes"

    @property
    def label(self) -> str:
        """What a UI shows above the answer ("" for a generated one)."""
        return QUOTES_LABEL if self.extractive else ""

    @property
    def sources(self) -> list[dict[str, Any]]:
        """The sources the answer cites, each once, in order of first citation."""
        seen: dict[str, dict[str, Any]] = {}
        for c in self.answer.citations:
            seen.setdefault(c.source_id, {"source_id": c.source_id, "title": c.source_title})
        return list(seen.values())

    def to_json(self) -> dict[str, Any]:
        d = self.answer.to_json()
        d.update({
            "question": self.question,
            "session_id": self.session_id,
            "retrieval_query": self.retrieval_query,
            "sources": self.sources,
            "structured": self.structured,
            "template": self.template,
            "cancelled": self.cancelled,
            "cut_off": self.cut_off,
            "mode": self.mode,
            "extractive": self.extractive,
            "goal": {"goal": self.goal.goal, "length": self.goal.length},
            "scope": self.scope,
            "label": self.label,
            "model": {"name": self.engine.model, "kind": self.engine.kind, "backend": self.engine.backend,
                      "gpu_layers": self.engine.gpu_layers, "n_ctx": self.engine.n_ctx,
                      "chat_format": self.engine.chat_format},
            "timings": {**self.timings, **(self.generation.timings() if self.generation else {})},
            "passages_given": [{"id": p.pid, "source": p.source_title, "location": p.location, "chunk_id": p.chunk_id}
                               for p in self.passages],
        })
        if self.quotes is not None:
            d["quote_scores"] = self.quotes.to_json()
        return d


def standalone_query(question: str, history: Sequence[Turn]) -> str:
    """A follow-up ("and how big is it?") made searchable with the previous question's key words."""
    q = question.strip()[:MAX_QUERY_CHARS]
    if not history:
        return q
    toks = words(q)
    if not (set(toks) & _ANAPHORA) and len(content_words(q)) >= 3:
        return q
    prev = " ".join(t.question for t in history[-2:])
    extra = [w for w in dict.fromkeys(words(prev)) if w not in toks and content_words(w)]
    return f"{q} {' '.join(extra[:12])}".strip() if extra else q


def _gguf_is_base(path: Path, setting: str) -> bool:
    """A GGUF's chat format from its header alone, as the engine would choose it: raw means a base model."""
    from notebooklm_local.services.chat_format import choose_chat_format
    from notebooklm_local.services.gguf import read_gguf_header

    try:
        meta = {k: v for k, v in read_gguf_header(path).metadata.items() if isinstance(v, str)}
        return choose_chat_format(setting, meta, path.name).name == "raw"
    except Exception as e:  # noqa: BLE001 - loading the model will report what is wrong with it
        log.info("could not judge %s from its header (%s); assuming an instruct model", path.name, e)
        return False


def _passage(pid: int, hit: Hit, *, name_notebook: bool = False) -> Passage:
    c, s = hit.chunk, hit.source
    url = s.ref.get("url") if isinstance(s.ref, dict) else None
    title = f"{hit.notebook}{NOTEBOOK_SEP}{s.display}" if name_notebook and hit.notebook else s.display
    return Passage(pid, c.id, s.id, title, c.text, c.char_start, c.char_end, c.page, c.page_end, c.t_start,
                   c.heading, url, hit.score, ocr_pages=ocr_pages_in(s.meta))


def _nothing_found(hits: Sequence[Hit], source_ids: Sequence[str] | None, every: bool) -> list[str]:
    """The "not found" answer's text."""
    if every:
        return ["No passage in any notebook matches the question." if hits else
                "No notebook has a ready source that matches the question."]
    return (["No passage in the selected sources matches the question."] if hits or source_ids else
            ["No sources are selected (or none is ready)."])


def _shorten(p: Passage, keep: float) -> Passage:
    n = max(80, int(len(p.text) * keep))
    return replace(p, text=p.text[:n], end=p.start + n)


def _stopped_text(part: str | dict[str, Any], structured: bool) -> str:
    """The readable text of a part of a stopped answer (free text, or structured sentences)."""
    if not structured or not isinstance(part, dict):
        return strip_markers(str(part)).strip()
    raw = part.get("sentences")
    items: list[Any] = raw if isinstance(raw, list) else []
    return " ".join(str(it.get("text", "")).strip() for it in items if isinstance(it, dict)).strip()


def _split_stopped(raw: str, structured: bool) -> tuple[Any, str]:
    """A stopped generation split into what was finished (free text, or a structured answer's dict) and the
    sentence being written (plain text, markers removed): always the last one, since even a sentence that
    reached its full stop may still have been waiting for its citation."""
    if structured:
        try:
            data = repair_json(raw)
        except ValueError:
            return None, ""
        items = data.get("sentences") if isinstance(data, dict) else None
        items = [it for it in items if isinstance(it, dict) and str(it.get("text", "")).strip()] \
            if isinstance(items, list) else []
        if not items:
            return None, ""
        cut = strip_markers(str(items[-1].get("text", ""))).strip()
        return ({**data, "sentences": items[:-1]} if len(items) > 1 else None), cut
    text = _DANGLING_MARKER.sub("", raw.strip()).strip()
    spans = split_sentences(text)
    if not spans:
        return "", ""
    a, b = spans[-1]
    return text[:a].strip(), strip_markers(text[a:b]).strip()


class StructuredDisplay:
    """Turns a streaming JSON answer into readable text as it arrives (sentences with [n] markers)."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self.buf = ""
        self.shown = ""
        self.emit = emit

    def feed(self, piece: str) -> None:
        self.buf += piece
        try:
            data = repair_json(self.buf)
        except ValueError:
            return
        items = data.get("sentences") if isinstance(data, dict) else None
        if not isinstance(items, list):
            return
        parts = []
        for it in items:
            if isinstance(it, dict) and isinstance(it.get("text"), str):
                raw_cites = it.get("citations")
                cites: list[Any] = raw_cites if isinstance(raw_cites, list) else []
                parts.append(it["text"].strip() + "".join(f" [{c}]" for c in cites if isinstance(c, int)))
        text = " ".join(p for p in parts if p)
        if text.startswith(self.shown) and len(text) > len(self.shown):
            self.emit(text[len(self.shown) :])
            self.shown = text


class ChatService:
    """Cited answers over one library, with one engine. One generation at a time (the engine's lock)."""

    def __init__(
        self,
        library: LibraryService,
        engine: Engine,
        templates: TemplateStore,
        settings: ChatSettings | None = None,
    ) -> None:
        self.library = library
        self.engine = engine
        self.templates = templates
        self.settings = settings or ChatSettings()
        self.store = ChatStore(library.library)
        self._busy = threading.Lock()
        self._base_model: dict[tuple[str, float, str], bool] = {}

    # -- chat goal (per notebook) ------------------------------------------------------------

    GOAL_KEY = SETTINGS_KEY  # the notebook settings' key (core.library, migration 5)

    def goal(self, notebook: str) -> ChatGoal:
        """The notebook's chat goal and response length (the defaults when none was set)."""
        return notebook_goal(self.library.library, notebook)

    def set_goal(self, notebook: str, goal: str | None = None, persona: str | None = None,
                 length: str | None = None) -> ChatGoal:
        """Check and store the notebook's chat goal (None keeps a value). Raises ChatGoalError (nothing is
        stored) for an unknown goal or length, or a custom goal whose instructions are empty or too long."""
        return set_notebook_goal(self.library.library, notebook, goal, persona, length)

    def goal_values(self, goal: ChatGoal) -> dict[str, str]:
        """The answer templates' goal variables: ``goal`` (the goal template's system part, the persona quoted
        in it as data), ``goal_reminder`` (its user part) and ``length``."""
        values = {"goal": "", "goal_reminder": "", "length": goal.length}
        if goal.template is not None:
            r = self.templates.get(goal.template).render({"persona": persona_for_prompt(goal.persona)})
            values["goal"], values["goal_reminder"] = r.system, r.user
        return values

    # -- decisions ---------------------------------------------------------------------------

    def use_structured(self, override: bool | None = None, info: EngineInfo | None = None) -> bool:
        if override is not None:
            return override
        mode = self.settings.structured.lower()
        if mode in ("on", "true", "always"):
            return True
        if mode in ("off", "false", "never"):
            return False
        info = info or self.engine.info()
        return info.chat_format == "raw"  # base models cannot follow citation instructions; a grammar can

    def resolve_mode(self, mode: str | None = None) -> str:
        """"generate" or "quotes" for an ask with ``mode`` (None: the settings' ``chat.mode``)."""
        m = (mode or self.settings.mode or "auto").strip().lower()
        if m not in MODES:
            raise NotebookError(f"Unknown answer mode '{m}': use one of {', '.join(MODES)}.")
        if m != "auto":
            return m
        return "quotes" if self.model_is_base() else "generate"

    def model_is_base(self) -> bool:
        """Whether the chat model is a base (raw-completion) model that cannot answer: the embedded demo
        model, or a GGUF without a chat template that does not look instruct-tuned. A local model that is
        not loaded yet is judged from its GGUF header (milliseconds), so quotes mode never loads it."""
        from notebooklm_local.services.models import DEFAULT_MODEL_NAME

        eng = self.engine
        path = getattr(eng, "path", None)
        if isinstance(path, Path) and not getattr(eng, "loaded", True):
            setting = str(getattr(eng, "chat_format_setting", "auto") or "auto").strip().lower()
            if path.name == DEFAULT_MODEL_NAME and setting in ("auto", "raw"):
                return True
            try:
                key = (str(path), path.stat().st_mtime, setting)
            except OSError:
                return False  # generation will report the missing model
            if key not in self._base_model:
                self._base_model[key] = _gguf_is_base(path, setting)
            return self._base_model[key]
        return self.engine.info().chat_format in ("raw", "")

    def history(self, session_id: str | None) -> list[Turn]:
        if not session_id:
            return []
        recs = self.store.messages(session_id, limit=HISTORY_TURNS * 2 + 2)
        turns: list[Turn] = []
        pending: str | None = None
        for r in recs:
            if r.role == "user":
                pending = r.content
            elif pending is not None:
                if r.content.strip():  # an answer stopped before its first sentence is no turn to follow up
                    turns.append(Turn(pending, r.content))
                pending = None
        return turns[-HISTORY_TURNS:]

    def retrieval_query(self, question: str, history: Sequence[Turn], cancel: CancelToken | None = None,
                        info: EngineInfo | None = None) -> str:
        heuristic = standalone_query(question, history)
        if not history or not self.settings.rewrite_followups:
            return heuristic
        if (info or self.engine.info()).chat_format in ("raw", ""):
            return heuristic
        try:
            tpl = self.templates.get("rewrite_query")
            hist = "\n".join(f"User: {t.question}\nAssistant: {t.answer[:300]}" for t in history[-3:])
            r = tpl.render({"history": hist, "question": question[:MAX_QUERY_CHARS]})
            msgs = [ChatMessage("system", r.system), ChatMessage("user", r.user)] if r.system else [
                ChatMessage("user", r.user)]
            out = "".join(self.engine.stream_chat(msgs, max_tokens=48, temperature=0.0, stop=["\n"], cancel=cancel))
        except Cancelled:
            raise
        except NotebookError as e:
            log.info("query rewrite failed (%s); using the heuristic query", e)
            return heuristic
        line = out.strip().strip('"\u201c\u201d').strip()
        known = set(content_words(question + " " + " ".join(t.question + " " + t.answer for t in history)))
        if 3 <= len(line) <= 300 and set(content_words(line)) & known:
            return line
        return heuristic

    def _relevant(self, hits: Sequence[Hit]) -> bool:
        return any(h.lexical_rank is not None or (h.similarity or 0.0) >= self.settings.min_similarity for h in hits)

    # -- ask -----------------------------------------------------------------------------------

    def ask(
        self,
        notebook: str,
        question: str,
        *,
        source_ids: Sequence[str] | None = None,
        session_id: str | None = None,
        new_session: bool = False,
        structured: bool | None = None,
        language: str = "",
        on_token: Callable[[str], None] | None = None,
        cancel: CancelToken | None = None,
        mode: str | None = None,
        on_stage: Callable[[str], None] | None = None,
        store_stopped: Callable[[], bool] | None = None,
        goal: ChatGoal | None = None,
        scope: str = "notebook",
    ) -> AskResult:
        """Answer ``question`` from the notebook's (selected) sources. Raises NotebookError on bad input.

        ``scope`` "all" answers from every notebook's ready sources (the library-wide scope): the
        notebook's selection does not apply (``source_ids``, when given, restrict it to those sources, of
        any notebook), each passage's and citation's source title names its notebook ("Notebook › Source")
        and a citation's ``source_id`` opens the source wherever it lives. The exchange is kept in
        ``notebook``'s chat (its goal applies), the answer marked ``"scope": "all"``.

        ``mode``: "generate" (the model answers), "quotes" (the best source sentences, quoted and cited;
        no model is loaded or called), "auto" (quotes for a base model, else generate); None: settings.
        ``on_stage(text)`` is told what is happening ("Searching your sources…", "Reading 8 passages…",
        "Writing the answer…"), so a UI never sits silent while the prompt is evaluated.

        A generation stopped through ``cancel`` returns (``cancelled``) with the sentences finished before the
        stop, checked, and the one being written in ``cut_off`` (not checked: half a sentence is neither
        supported nor unsupported); its one mark is :data:`STOPPED_NOTE`. It is stored once, unless
        ``store_stopped()`` (asked after the stop) says False: then nothing of this exchange is stored.
        A cancel before the generation started raises :class:`Cancelled` (nothing stored).

        ``goal``: the chat goal and response length (None: the notebook's, see :meth:`goal`). The goal
        changes the prompt, never the checks: every sentence still needs its citation. Quotes mode ignores
        the goal and gives fewer or more quotes for a shorter or longer response length.
        """
        stage = on_stage or (lambda _text: None)
        question = (question or "").strip()
        if not question:
            raise NotebookError("The question is empty.")
        cancel = cancel or CancelToken()
        shown: list[str] = []
        if on_token is not None:
            user_cb = on_token

            def on_token(piece: str) -> None:
                shown.append(piece)
                user_cb(piece)

        t0 = time.perf_counter()
        created = False
        nb = self.library.library.notebook(notebook)
        chat_goal = goal if goal is not None else ChatGoal.from_json(nb.settings.get(self.GOAL_KEY))
        if session_id:
            session = self.store.session(session_id)
            if session.notebook_id != nb.id:
                raise NotebookError("That chat session belongs to another notebook.")
        elif not new_session and (latest := self.store.latest_session(nb.id)) is not None:
            session = latest
        else:
            session = self.store.create_session(nb.id)
            created = True
        history = self.history(session.id)
        if scope not in SCOPES:
            raise NotebookError(f"Unknown search scope '{scope}': use one of {', '.join(SCOPES)}.")
        every = scope == "all"
        if source_ids is None and not every:
            source_ids = [s.id for s in self.library.library.sources(nb.id) if s.selected]
        if self.resolve_mode(mode) == "quotes":
            return self._ask_quotes(nb.id, session.id, question, history, source_ids, on_token, shown, cancel, t0,
                                    chat_goal, scope=scope)
        stage("Loading the model…")
        info = self.engine.info()  # loads a local model; a server is probed once
        use_structured = self.use_structured(structured, info)
        tpl_name = "chat_answer_structured" if use_structured else "chat_answer"
        timings: dict[str, float] = {}

        with self._busy:
            cancel.raise_if_set()
            stage("Searching your sources…")
            query = self.retrieval_query(question, history, cancel, info)
            t1 = time.perf_counter()
            hits = self.library.search(None if every else nb.id, query[:MAX_QUERY_CHARS], k=self.settings.top_k,
                                       source_ids=source_ids)
            t2 = time.perf_counter()
            timings["rewrite_s"] = round(t1 - t0, 4)
            timings["retrieval_s"] = round(t2 - t1, 4)
            if not hits or not self._relevant(hits):
                answer = not_found_answer(_nothing_found(hits, source_ids, every))
                if on_token:
                    on_token(answer.text)
                result = AskResult(question, answer, session.id, query, [], info, None, use_structured, tpl_name,
                                   timings, shown_text="".join(shown), goal=chat_goal, scope=scope)
                self._persist(session.id, result)
                return result
            passages = [_passage(i + 1, h, name_notebook=every) for i, h in enumerate(hits)]
            plan = self._plan(tpl_name, passages, history, question, language, chat_goal)
            t3 = time.perf_counter()
            timings["prompt_build_s"] = round(t3 - t2, 4)
            n = len(plan.passages)
            stage(f"Reading {n} passage{'s' if n != 1 else ''} ({plan.prompt_tokens:,} tokens)…")
            display = StructuredDisplay(on_token) if (use_structured and on_token) else None
            pieces: list[str] = []
            t_first: list[float] = []
            schema = answer_schema(len(plan.passages), length_sentences(chat_goal.length)) if use_structured \
                else None
            gen = self.engine.stream_chat(
                plan.messages, max_tokens=plan.answer_tokens, temperature=self.settings.temperature,
                cancel=cancel, json_schema=schema, static_prefix=len(plan.messages) - 1,
            )
            for piece in gen:
                if not t_first:
                    t_first.append(time.perf_counter())
                    stage("Writing the answer…")
                pieces.append(piece)
                if display is not None:
                    display.feed(piece)
                elif on_token is not None:
                    on_token(piece)
            t4 = time.perf_counter()
            raw = "".join(pieces)
            timings["first_token_s"] = round((t_first[0] if t_first else t4) - t0, 4)
            generation = gen.result()
            cancelled = bool(generation and generation.finish_reason == "cancelled") or cancel.is_set()
            cut_off = ""
            if cancelled:
                answer, cut_off = self._verify_stopped(raw, plan.passages, use_structured)
            else:
                answer = self._verify(raw, plan.passages, use_structured)
            timings["verify_s"] = round(time.perf_counter() - t4, 4)
            timings["total_s"] = round(time.perf_counter() - t0, 4)
            answer.notes = plan.notes + answer.notes
            if cancelled:
                answer.notes.append(STOPPED_NOTE)
            if generation is not None and generation.finish_reason == "length" and not cancelled:
                answer.notes.append("The answer reached its length limit and may be cut short.")
            result = AskResult(question, answer, session.id, query, plan.passages, info, generation, use_structured,
                               tpl_name, timings, cancelled, raw, "".join(shown), cut_off=cut_off, goal=chat_goal,
                               scope=scope)
            if cancelled and store_stopped is not None and not store_stopped():
                if created and not self.store.messages(session.id):
                    self.store.delete_session(session.id)  # an empty chat made for this question
                return result
            self._persist(session.id, result)
            return result

    def quotes_for(self, question: str, hits: Sequence[Hit], threshold: float | None = None,
                   max_quotes: int | None = None, *, name_notebook: bool = False) -> QuoteResult:
        """The quote selection for retrieved ``hits`` (what quotes mode answers with; see core/quotes.py).
        ``name_notebook``: source titles read "Notebook › Source" (an all-notebooks answer)."""
        passages = [_passage(i + 1, h, name_notebook=name_notebook) for i, h in enumerate(hits)]
        embedder = getattr(self.library.index, "embedder", None) if self.library.index is not None else None
        return select_quotes(question, passages, similarities=[h.similarity for h in hits],
                             embed=embedder.embed if embedder is not None else None, threshold=threshold,
                             context=self._source_span, max_quotes=max_quotes)

    def _source_span(self, source_id: str, start: int, end: int) -> str | None:
        """``text[start:end]`` of a source's stored text (clipped at its end), without reading all of it."""
        start = max(0, start)
        rows = self.library.library.query(
            "SELECT substr(text, ?, ?) AS t FROM source_texts WHERE source_id = ?", (start + 1, end - start, source_id))
        return str(rows[0]["t"]) if rows and rows[0]["t"] is not None else None

    def _ask_quotes(self, notebook_id: str, session_id: str, question: str, history: list[Turn],
                    source_ids: Sequence[str] | None, on_token: Callable[[str], None] | None, shown: list[str],
                    cancel: CancelToken, t0: float, goal: ChatGoal | None = None, *,
                    scope: str = "notebook") -> AskResult:
        """Quotes mode: the same retrieval, then source sentences instead of a generation (no engine call)."""
        timings: dict[str, float] = {}
        every = scope == "all"
        with self._busy:
            cancel.raise_if_set()
            query = standalone_query(question, history)  # no model to rewrite follow-ups
            t1 = time.perf_counter()
            hits = self.library.search(None if every else notebook_id, query[:MAX_QUERY_CHARS],
                                       k=self.settings.top_k, source_ids=source_ids)
            t2 = time.perf_counter()
            timings["rewrite_s"] = round(t1 - t0, 4)
            timings["retrieval_s"] = round(t2 - t1, 4)
            cancel.raise_if_set()
            selection: QuoteResult | None = None
            cited: list[Passage] = []
            if not hits or not self._relevant(hits):
                answer = not_found_answer(_nothing_found(hits, source_ids, every))
            else:
                selection = self.quotes_for(question, hits, max_quotes=length_quotes(goal.length) if goal else None,
                                            name_notebook=every)
                answer, cited = quoted_answer(selection)
            timings["quotes_s"] = round(time.perf_counter() - t2, 4)
            if on_token is not None:
                on_token(answer.text)
            timings["total_s"] = round(time.perf_counter() - t0, 4)
            result = AskResult(question, answer, session_id, query, cited, QUOTES_ENGINE, None, False, "", timings,
                               shown_text="".join(shown), mode="quotes", quotes=selection, goal=goal or ChatGoal(),
                               scope=scope)
            self._persist(session_id, result)
            return result

    def _plan(self, tpl_name: str, passages: list[Passage], history: list[Turn], question: str,
              language: str, goal: ChatGoal | None = None) -> BudgetPlan[Passage]:
        tpl = self.templates.get(tpl_name)
        goal = goal or ChatGoal()
        goal_values = self.goal_values(goal)

        def build(ps: Sequence[Passage], hist: Sequence[Turn], q: str) -> list[ChatMessage]:
            r = tpl.render({"passages": format_passages(ps), "question": q, "language": language, **goal_values})
            msgs = [ChatMessage("system", r.system)] if r.system else []
            for t in hist:
                msgs += [ChatMessage("user", t.question), ChatMessage("assistant", strip_markers(t.answer))]
            msgs.append(ChatMessage("user", r.user))
            return msgs

        def crowded() -> ChatGoalError:
            persona_tokens = self.engine.count_chat_tokens([ChatMessage("system", goal_values["goal"])])
            return ChatGoalError(
                f"The notebook's custom chat instructions take about {persona_tokens:,} tokens of the model's "
                f"{self.engine.n_ctx:,}-token context and leave no room for the passages. Shorten the instructions "
                "(Goal in the chat panel, or `chat-goal set`) or raise the context size in Settings.")

        try:
            plan = fit_context(
                build=build, count=self.engine.count_chat_tokens, n_ctx=self.engine.n_ctx,
                answer_tokens=length_tokens(goal.length, self.settings.answer_tokens), passages=passages,
                history=history, question=question, shorten_passage=_shorten,
            )
        except NotebookError:
            if goal.goal == "custom":
                raise crowded() from None
            raise
        if passages and not plan.passages and goal.goal == "custom":
            raise crowded()  # an answer from no passage at all would only be flagged sentences
        return plan

    def _verify(self, raw: str, passages: list[Passage], structured: bool) -> CitedAnswer:
        similarity = similarity_for(self.library)  # the embedder's semantic signal (None: lexical checks only)
        if not structured:
            return build_answer(raw, passages, similarity)
        try:
            return build_structured_answer(repair_json(raw), passages, similarity)
        except ValueError as e:
            log.info("structured answer unusable (%s): %r", e, raw[:200])
            text = "The model did not produce a usable answer."
            return CitedAnswer(text, [AnswerSentence(text, supported=False, flag="no usable output")], [],
                               notes=[f"The model's structured answer was not usable ({e}). Try again, or use a "
                                      "larger model."])

    def _verify_stopped(self, raw: str, passages: list[Passage], structured: bool) -> tuple[CitedAnswer, str]:
        """A stopped generation: the sentences finished before the stop, checked, and the last one (being
        written when it stopped, or waiting for its citation) apart and unchecked. Never "not found" and
        never "the model wrote nothing": the user stopped it."""
        done, cut = _split_stopped(raw, structured)
        answer = CitedAnswer("", [], [])
        if done:
            similarity = similarity_for(self.library)
            try:
                answer = build_structured_answer(done, passages, similarity) if structured \
                    else build_answer(done, passages, similarity)
            except ValueError:
                answer = CitedAnswer("", [], [])
            if answer.not_found or not answer.sentences or not answer.text.strip():
                # the model's own words, unchecked, rather than the app's "not found" / "wrote nothing" text
                head = _stopped_text(done, structured)
                cut = f"{head} {cut}".strip()
                answer = CitedAnswer("", [], [])
        return answer, cut

    def _persist(self, session_id: str, result: AskResult) -> None:
        self.store.add_message(session_id, "user", result.question)
        payload = result.to_json()
        payload.pop("question", None)
        self.store.add_message(session_id, "assistant", result.answer.text, payload)

