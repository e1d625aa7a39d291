"""The studio: summaries (and briefing / study guide / FAQ), chain of density, podcast script and audio.

One service for the GUI and the CLI. Each output is stored (``core/studio_store.py``) with its sources,
options, model and template, and can be saved as a note with its citations.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notebooklm_local.core.citations import CitedAnswer, Passage, strip_markers
from notebooklm_local.core.density import CoDStep, chain_problem
from notebooklm_local.core.errors import NotebookError, StudioError
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.library import Source
from notebooklm_local.core.llm import Engine
from notebooklm_local.core.notes import Note, NoteStore
from notebooklm_local.core.podcast_script import (
    DEFAULT_PERSONAS,
    PREFS_KEY,
    Host,
    PodcastScript,
    checked_prefs,
    normalize_length,
    parse_markdown,
    podcast_format,
)
from notebooklm_local.core.settings import Settings
from notebooklm_local.core.studio_store import StudioOutput, StudioStore
from notebooklm_local.core.templates import TemplateStore
from notebooklm_local.services.grounding import similarity_for
from notebooklm_local.services.library_service import LibraryService
from notebooklm_local.services.studio.cod import regenerate_step as regenerate_cod_step
from notebooklm_local.services.studio.cod import run_chain
from notebooklm_local.services.studio.common import Progress, RunStats, load_material
from notebooklm_local.services.studio.podcast import (
    check_hosts,
    draft_markdown,
    segment_passages,
    verify_script,
    write_script,
    write_segment,
)
from notebooklm_local.services.studio.regenerate import (
    Regenerated,
    check_index,
    closest_passages,
    no_model_error,
    reanswer,
    remap_citations,
    rewrite_sentence,
)
from notebooklm_local.services.studio.stages import OnStage, StageReporter
from notebooklm_local.services.studio.summaries import (
    AUDIENCES,
    DOCUMENT_TEMPLATES,
    LENGTHS,
    SummaryPlan,
    cited_document,
    title_for,
)

__all__ = ["StudioService", "SummaryResult", "CoDResult", "PodcastResult"]

log = logging.getLogger(__name__)


@dataclass
class SummaryResult:
    output: StudioOutput
    answer: CitedAnswer
    parts: int
    stats: RunStats
    notes: list[str] = field(default_factory=list)


@dataclass
class CoDResult:
    output: StudioOutput
    steps: list[CoDStep]
    failure: str
    stats: RunStats
    notes: list[str] = field(default_factory=list)


@dataclass
class PodcastResult:
    output: StudioOutput
    script: PodcastScript
    stats: RunStats
    notes: list[str] = field(default_factory=list)


class StudioService:
    """Makes studio outputs with one engine. One generation at a time (with chat: the engine's lock)."""

    def __init__(self, library: LibraryService, engine: Engine, templates: TemplateStore,
                 settings: Settings | None = None, tts_engines: Callable[[], Sequence[Any]] | None = None) -> None:
        self.library = library
        self.engine = engine
        self.templates = templates
        self.settings = settings or Settings()
        self.store = StudioStore(library.library)
        self.notes = NoteStore(library.library)
        self._tts_engines = tts_engines or (lambda: [])
        self._busy = threading.Lock()

    # -- helpers ---------------------------------------------------------------------------------
    def _material(self, notebook: str, source_ids: Sequence[str] | None) -> tuple[str, list[Source], list[Passage]]:
        nb = self.library.library.notebook(notebook)
        sources, passages = load_material(self.library.library, nb.id, source_ids)
        return nb.id, sources, passages

    def _model(self) -> str:
        return self.engine.info().model

    def _provenance(self, templates: Sequence[str], sources: Sequence[Source], temperature: float) -> dict[str, Any]:
        """How an output was made (issue 14): model file and quantization, template names and hashes, the
        sources' versions, the settings that shaped it, and when. Kept in the output's payload."""
        info = self.engine.info()
        quant = re.search(r"(?i)(?<![a-z0-9])(I?Q\d(?:_[A-Z0-9]+)*|BF16|F16|F32)(?![a-z0-9])", info.model)
        tpls = []
        for name in templates:
            t = self.templates.get(name)
            digest = hashlib.sha256(f"{t.system}\n\x00\n{t.user}".encode()).hexdigest()[:16]
            tpls.append({"name": t.name, "origin": t.origin, "sha256": digest})
        return {
            "model": info.model, "quantization": quant.group(1).upper() if quant else "", "engine": info.kind,
            "backend": info.backend, "n_ctx": info.n_ctx, "gpu_layers": info.gpu_layers,
            "seed": getattr(self.engine, "seed", None), "temperature": temperature,
            "retries": self.settings.studio.retries, "templates": tpls,
            "sources": [{"id": s.id, "title": s.display, "sha256": s.sha256, "updated": s.updated} for s in sources],
            "checker": "grounding v1 (names, numbers, polarity, direction, overlap"
                       + (" + semantic)" if similarity_for(self.library) is not None else ")"),
            "created": time.time(),
        }

    def _language(self, language: str | None) -> str:
        return self.settings.output_language if language is None else language

    # -- summaries -------------------------------------------------------------------------------
    def summarize(
        self,
        notebook: str,
        source_ids: Sequence[str] | None = None,
        *,
        template: str = "summary",
        length: str | None = None,
        audience: str | None = None,
        focus: str = "",
        language: str | None = None,
        progress: Progress | None = None,
        cancel: CancelToken | None = None,
        on_token: Callable[[str], None] | None = None,
        on_stage: OnStage | None = None,
    ) -> SummaryResult:
        """A cited summary (or briefing / study guide / FAQ) of the sources; stored."""
        st = self.settings.studio
        length = length or st.summary_length
        audience = audience or st.audience
        if length not in LENGTHS:
            raise NotebookError(f"Length must be one of: {', '.join(LENGTHS)}.")
        if audience not in AUDIENCES:
            raise NotebookError(f"Audience must be one of: {', '.join(AUDIENCES)}.")
        if template not in DOCUMENT_TEMPLATES:
            raise NotebookError(f"Unknown document kind '{template}'. Choose one of: {', '.join(DOCUMENT_TEMPLATES)}.")
        focus = " ".join(focus.split())[:500]
        lang = self._language(language)
        nb_id, sources, passages = self._material(notebook, source_ids)
        words, sentences = LENGTHS[length]
        task, label = DOCUMENT_TEMPLATES[template]
        plan = SummaryPlan(words, sentences, audience, focus, lang, self.templates.get(template),
                           self.templates.get("summary_reduce"), task, st.retries)
        stats = RunStats()
        with self._busy:
            self.engine.info()  # load the model before the clock of the first call starts
            answer, parts, rounds = cited_document(self.engine, passages, plan, stats=stats, progress=progress,
                                                   cancel=cancel, on_token=on_token,
                                                   similarity=similarity_for(self.library),
                                                   reporter=StageReporter(progress, on_stage))
        stats.finish()
        notes = plan.notes + answer.notes
        if parts > 1:
            notes.insert(0, f"The sources were read in {parts} parts and combined ({rounds} round(s)).")
        options = {"template": template, "length": length, "audience": audience, "focus": focus, "language": lang}
        out = self.store.add(
            nb_id, "summary", title_for(label, [s.display for s in sources]), source_ids=[s.id for s in sources],
            options=options, model=self._model(), template=template,
            payload={"text": answer.text, "answer": answer.to_json(), "parts": parts, "passages": len(passages),
                     "stats": stats.to_json(), "notes": notes,
                     "provenance": self._provenance([template, "summary_reduce"], sources, plan.temperature)},
        )
        return SummaryResult(out, answer, parts, stats, notes)

    # -- chain of density ------------------------------------------------------------------------
    def chain_of_density(
        self,
        notebook: str,
        source_ids: Sequence[str] | None = None,
        *,
        steps: int | None = None,
        words: int | None = None,
        language: str | None = None,
        progress: Progress | None = None,
        cancel: CancelToken | None = None,
        on_step: Callable[[CoDStep], None] | None = None,
        on_stage: OnStage | None = None,
    ) -> CoDResult:
        """Chain-of-density summaries (all steps kept); stored even when a later step fails."""
        st = self.settings.studio
        steps = steps or st.cod_steps
        words = words or st.cod_words
        lang = self._language(language)
        nb_id, sources, passages = self._material(notebook, source_ids)
        texts = [(s.display, self.library.library.source_text(s.id)[0]) for s in sources]
        section_plan = SummaryPlan(160, 8, "expert", "", lang, self.templates.get("summary"),
                                   self.templates.get("summary_reduce"), "one summary", st.retries)
        stats = RunStats()
        with self._busy:
            self.engine.info()
            run = run_chain(self.engine, passages, texts, template=self.templates.get("cod_step"),
                            section_plan=section_plan, steps=steps, words=words, language=lang, retries=st.retries,
                            stats=stats, progress=progress, cancel=cancel, on_step=on_step,
                            similarity=similarity_for(self.library), reporter=StageReporter(progress, on_stage))
        stats.finish()
        notes = run.notes + section_plan.notes
        out = self.store.add(
            nb_id, "cod", title_for("Chain of density", [s.display for s in sources]),
            source_ids=[s.id for s in sources], options={"steps": steps, "words": words, "language": lang},
            model=self._model(), template="cod_step",
            payload={"steps": [s.to_json() for s in run.steps], "failure": run.failure, "sections": run.sections,
                     "stats": stats.to_json(), "notes": notes,
                     "text": run.steps[-1].summary if run.steps else "",
                     "provenance": self._provenance(["cod_step", "summary", "summary_reduce"], sources, 0.4)},
        )
        return CoDResult(out, run.steps, run.failure, stats, notes)

    # -- podcast ---------------------------------------------------------------------------------
    PODCAST_PREFS = PREFS_KEY  # the key of a notebook's audio overview choices in its settings (core.library)

    def podcast_prefs(self, notebook: str) -> dict[str, str]:
        """A notebook's last audio overview choices (format, length, language, focus), checked: what the podcast
        tab and ``podcast`` start from; the language is the notebook's output language for podcasts."""
        nb = self.library.library.notebook(notebook)
        return checked_prefs(self.library.library.notebook_settings(nb.id).get(self.PODCAST_PREFS))

    def podcast_script(
        self,
        notebook: str,
        source_ids: Sequence[str] | None = None,
        *,
        host_a: str | None = None,
        host_b: str | None = None,
        persona_a: str = "",
        persona_b: str = "",
        audience: str | None = None,
        length: str | None = None,
        language: str | None = None,
        focus: str = "",
        format: str | None = None,  # noqa: A002 - the CLI's and the user's word
        progress: Progress | None = None,
        cancel: CancelToken | None = None,
        on_stage: OnStage | None = None,
    ) -> PodcastResult:
        """An audio overview's script in ``format`` (deep-dive, brief, critique, debate; None: deep dive) at
        ``length`` (short / default / long; None: settings). ``language`` None: the notebook's podcast
        language, else the output language setting. The choices are kept in the notebook's settings."""
        st = self.settings.studio
        form = podcast_format(format)
        length = normalize_length(length or st.podcast_length)
        audience = audience or st.audience
        given_personas = (persona_a, persona_b)
        hosts = [Host(" ".join(name.split())[:40], given_personas[i].strip()[:300] or form.personas[i])
                 for i, name in enumerate([host_a or st.host_a, host_b or st.host_b][:form.speakers])]
        check_hosts(hosts, form)
        nb = self.library.library.notebook(notebook)
        prefs = self.podcast_prefs(nb.id)
        lang = " ".join(language.split())[:40] if language is not None else (prefs["language"]
                                                                             or self._language(None))
        focus = " ".join(focus.split())[:500]
        nb_id, sources, passages = self._material(notebook, source_ids)
        stats = RunStats()
        with self._busy:
            self.engine.info()
            script, given, notes = write_script(
                self.engine, passages, outline_template=self.templates.get(form.outline_template),
                dialogue_template=self.templates.get(form.dialogue_template), hosts=hosts, audience=audience,
                length=length, language=lang, focus=focus, retries=st.retries, stats=stats,
                progress=progress, cancel=cancel, similarity=similarity_for(self.library),
                reporter=StageReporter(progress, on_stage), fmt=form,
            )
        stats.finish()
        if script.unsupported:
            notes.append(f"{len(script.unsupported)} of {len(script.lines)} lines are not supported by the passages "
                         "they cite (marked \u26a0).")
        out = self.store.add(
            nb_id, "podcast", script.title, source_ids=[s.id for s in sources],
            options={"hosts": [h.name for h in hosts], "audience": audience, "length": length, "language": lang,
                     "focus": focus, "format": form.name},
            model=self._model(), template="+".join(form.templates),
            payload={"script": script.to_json(), "passages": [_passage_json(p) for p in given],
                     "stats": stats.to_json(), "notes": notes, "text": script.to_markdown(),
                     "provenance": self._provenance(list(form.templates), sources, 0.6)},
        )
        self.library.library.update_notebook_settings(nb_id, **{self.PODCAST_PREFS: {
            "format": form.name, "length": length, "language": lang if language is not None else prefs["language"],
            "focus": focus}})
        return PodcastResult(out, script, stats, notes)

    def _hosts(self, host_a: str | None, host_b: str | None) -> list[Host]:
        st = self.settings.studio
        names = [" ".join((host_a or st.host_a).split())[:40], " ".join((host_b or st.host_b).split())[:40]]
        if not all(names) or names[0].casefold() == names[1].casefold():
            raise NotebookError("A podcast needs two hosts with different names.")
        return [Host(names[0], DEFAULT_PERSONAS[0]), Host(names[1], DEFAULT_PERSONAS[1])]

    def draft_script(self, notebook: str, source_ids: Sequence[str] | None = None, *, host_a: str | None = None,
                     host_b: str | None = None) -> str:
        """A script to write from when none was generated (no model needed): the hosts take turns with key
        source sentences, verbatim and cited, and the numbered passages to cite (``podcast.draft_markdown``)."""
        _nb, sources, passages = self._material(notebook, source_ids)
        hosts = self._hosts(host_a, host_b)
        title = title_for("Podcast", [s.display for s in sources])
        return draft_markdown(passages, [h.name for h in hosts], title)

    def new_script(self, notebook: str, markdown: str, source_ids: Sequence[str] | None = None, *,
                   host_a: str | None = None, host_b: str | None = None, language: str | None = None
                   ) -> PodcastResult:
        """Store a script the user wrote or pasted (the Markdown of ``export_markdown``) as a podcast output, with
        no model: ``[n]`` cites passage n of the sources in reading order (as in :meth:`draft_script`); every
        line is checked against the passages it cites (a line citing none is flagged, as in edited scripts).
        It can then be edited, saved as a note and spoken like a generated script."""
        nb_id, sources, passages = self._material(notebook, source_ids)
        hosts = self._hosts(host_a, host_b)
        script = parse_markdown(markdown, hosts=hosts)
        known = {h.name for h in hosts}
        strangers = sorted({ln.speaker for ln in script.lines} - known)
        script.hosts = hosts + [Host(n) for n in strangers]
        script.language = self._language(language)
        script.title = script.title or title_for("Podcast", [s.display for s in sources])
        verify_script(script, passages, similarity_for(self.library))
        cited = {i for ln in script.lines for i in ln.citations}
        notes = ["Written by hand (no model); citations are checked against the sources' passages."]
        if script.unsupported:
            notes.append(f"{len(script.unsupported)} of {len(script.lines)} lines are not supported by the passages "
                         "they cite (marked \u26a0).")
        stats = RunStats().finish()
        out = self.store.add(
            nb_id, "podcast", script.title, source_ids=[s.id for s in sources],
            options={"hosts": [h.name for h in hosts], "language": script.language, "manual": True},
            model="", template="",
            payload={"script": script.to_json(), "passages": [_passage_json(p) for p in passages if p.pid in cited],
                     "notes": notes, "text": script.to_markdown(), "manual": True, "edited": True,
                     "provenance": {"model": "(none: written by hand)", "engine": "", "templates": [],
                                    "checker": "grounding v1 (names, numbers, polarity, direction, overlap"
                                               + (" + semantic)" if similarity_for(self.library) is not None
                                                  else ")"),
                                    "sources": [{"id": s.id, "title": s.display, "sha256": s.sha256,
                                                 "updated": s.updated} for s in sources],
                                    "created": time.time()}},
        )
        return PodcastResult(out, script, stats, notes)

    def script_of(self, output_id: str) -> PodcastScript:
        out = self.store.get(output_id)
        if out.kind != "podcast":
            raise NotebookError(f"Studio output {out.id[:8]} is a {out.kind}, not a podcast.")
        return PodcastScript.from_json(out.payload["script"])

    def update_script(self, output_id: str, markdown: str) -> PodcastScript:
        """Replace a stored script with the user's edited Markdown; citations are re-checked."""
        out = self.store.get(output_id)
        if out.kind != "podcast":
            raise NotebookError(f"Studio output {out.id[:8]} is a {out.kind}, not a podcast.")
        old = PodcastScript.from_json(out.payload["script"])
        new = parse_markdown(markdown, hosts=old.hosts)
        new.language = old.language
        new.title = new.title or old.title
        known = {h.name for h in old.hosts}
        strangers = sorted({ln.speaker for ln in new.lines} - known)
        if strangers:
            new.hosts = old.hosts + [Host(n) for n in strangers]
        passages = [_passage_from_json(d) for d in out.payload.get("passages", [])]
        if out.payload.get("manual"):  # written by hand: [n] is passage n of the sources, as when it was made
            try:
                passages = load_material(self.library.library, out.notebook_id, out.source_ids)[1]
            except NotebookError as e:
                log.info("the sources of %s cannot be read again (%s): checking against the stored passages",
                         out.id[:8], e)
        verify_script(new, passages, similarity_for(self.library))
        payload = dict(out.payload, script=new.to_json(), text=new.to_markdown(), edited=True)
        if out.payload.get("manual"):
            cited = {i for ln in new.lines for i in ln.citations}
            payload["passages"] = [_passage_json(p) for p in passages if p.pid in cited]
        self.store.update(out.id, payload=payload, title=new.title or out.title)
        return new

    def podcast_audio(
        self,
        script: PodcastScript | str,
        out_path: Path,
        *,
        engine: str | None = None,
        voices: dict[str, str] | None = None,
        progress: Progress | None = None,
        cancel: CancelToken | None = None,
    ) -> Any:
        """Speak a script (or a stored podcast's, by output id) into ``out_path`` (.wav/.mp3/.ogg)."""
        from notebooklm_local.core.tts import Utterance, pick_engine
        from notebooklm_local.services.tts.render import render_dialogue

        output_id = script if isinstance(script, str) else None
        if isinstance(script, str):
            script = self.script_of(script)
        tts = self.settings.tts
        chosen = pick_engine(list(self._tts_engines()), engine or tts.engine)
        lines = [Utterance(s, t) for s, t in script.utterances()]
        if not lines:
            raise StudioError("The script has no lines to speak.")
        # every host gets a voice by host order (not by who speaks first): given, else settings, else the
        # engine's two distinct defaults for the script's language
        names = list(dict.fromkeys([h.name for h in script.hosts] + [u.speaker for u in lines]))
        defaults = chosen.default_voices(script.language)
        wanted = dict(voices or {})
        for i, name in enumerate(names):
            if name not in wanted:
                configured = (tts.voice_a, tts.voice_b)[i] if i < 2 else ""
                wanted[name] = configured or defaults[i % 2]
        result = render_dialogue(chosen, lines, Path(out_path), voices=wanted, rate_wpm=tts.rate_wpm,
                                 pause_s=tts.pause_s, language=script.language, progress=progress, cancel=cancel,
                                 cache=self.line_cache())
        if output_id is not None:
            out = self.store.get(output_id)
            self.store.update(out.id, payload=dict(out.payload, audio=str(result.path),
                                                   audio_engine=result.engine, audio_voices=dict(result.voices)))
        return result

    def line_cache(self) -> Any:
        """The per-line audio cache (``tts.render.LineAudioCache``) in the data dir."""
        from notebooklm_local.services.tts.render import LineAudioCache

        return LineAudioCache(Path(self.library.data_dir) / "tts-line-cache")

    def revoice(self, output_id: str, out_path: Path | None = None, *, engine: str | None = None,
                progress: Progress | None = None, cancel: CancelToken | None = None) -> Any:
        """Speak a stored podcast again after its script changed (an edit, a regenerated line or segment):
        only the lines whose text (or voice) changed are synthesised; the others come from the per-line
        cache, and the file is assembled again. ``out_path`` None: the file it was last spoken into. The
        engine and voices are the ones it was last spoken with unless given."""
        out = self.store.get(output_id)
        if out.kind != "podcast":
            raise NotebookError(f"Studio output {out.id[:8]} is a {out.kind}, not a podcast.")
        target = out_path or out.payload.get("audio")
        if not target:
            raise NotebookError(f"Podcast {out.id[:8]} has no audio yet: generate it first (podcast --from-output "
                                f"{out.id[:8]} --audio FILE).")
        voices = out.payload.get("audio_voices") if engine is None else None
        return self.podcast_audio(out.id, Path(target), engine=engine or out.payload.get("audio_engine") or None,
                                  voices=dict(voices) if isinstance(voices, dict) else None, progress=progress,
                                  cancel=cancel)

    # -- regenerate one flagged item (fail safe) ---------------------------------------------------
    def regenerate_sentence(self, output_id: str, index: int, *, language: str | None = None,
                            cancel: CancelToken | None = None) -> Regenerated:
        """Write sentence ``index`` (0-based) of a stored summary again from the passages it cites (uncited:
        the closest ones). It replaces the old sentence only when it is supported; the output's other
        sentences stay as they are (checked again). The stored output is updated in place."""
        out = self.store.get(output_id)
        if out.kind != "summary":
            raise NotebookError(f"Studio output {out.id[:8]} is a {out.kind}, not a summary.")
        stored = out.payload["answer"]
        sentences = stored.get("sentences", [])
        check_index(len(sentences), index, "sentence")
        _, passages = load_material(self.library.library, out.notebook_id, out.source_ids)
        remap = remap_citations(stored, passages)
        items = [(str(s["text"]), [remap[c] for c in s.get("citations", []) if c in remap]) for s in sentences]
        by_pid = {p.pid: p for p in passages}
        old_text, old_ids = items[index]
        cited = [by_pid[i] for i in old_ids] or closest_passages(old_text, passages)
        similarity = similarity_for(self.library)
        stats = RunStats()
        lang = self._language(language if language is not None else out.options.get("language"))
        result = Regenerated(index, strip_markers(old_text), "", False)
        try:
            with self._busy:
                self.engine.info()
                new = rewrite_sentence(self.engine, old_text, cited, passages, template=self.templates.get("summary"),
                                       reduce_template=self.templates.get("summary_reduce"), language=lang,
                                       retries=self.settings.studio.retries, stats=stats, cancel=cancel,
                                       similarity=similarity)
        except StudioError as e:
            result.flag = no_model_error(e, "sentence")
            return result
        s = new.sentences[0]
        items[index] = (strip_markers(s.text), list(s.citations))
        answer = reanswer(items, passages, similarity)
        result.new, result.replaced = strip_markers(s.text), True
        notes = list(out.payload.get("notes", [])) + [f"Sentence {index + 1} was regenerated."]
        self.store.update(out.id, payload=dict(out.payload, answer=answer.to_json(), text=answer.text, notes=notes))
        return result

    def regenerate_step(self, output_id: str, step: int, *, cancel: CancelToken | None = None) -> Regenerated:
        """Make step ``step`` (1-based) of a stored chain of density again on its own, from the step before it,
        under the same checks. It replaces the old step only when it passes; later steps are kept (noted as
        made from the earlier version), and the chain's failure line is brought up to date."""
        out = self.store.get(output_id)
        if out.kind != "cod":
            raise NotebookError(f"Studio output {out.id[:8]} is a {out.kind}, not a chain of density.")
        steps = [CoDStep.from_json(d) for d in out.payload.get("steps", [])]
        if not 1 <= step <= len(steps):
            raise NotebookError(f"Choose a step from 1 to {len(steps)}.")
        sources, passages = load_material(self.library.library, out.notebook_id, out.source_ids)
        texts = [(s.display, self.library.library.source_text(s.id)[0]) for s in sources]
        stats = RunStats()
        result = Regenerated(step - 1, steps[step - 1].summary, "", False)
        words = int(out.options.get("words", self.settings.studio.cod_words))
        try:
            with self._busy:
                self.engine.info()
                new = regenerate_cod_step(self.engine, passages, texts, steps, step,
                                          template=self.templates.get("cod_step"), words=words,
                                          language=str(out.options.get("language", "")),
                                          retries=self.settings.studio.retries, stats=stats, cancel=cancel,
                                          similarity=similarity_for(self.library))
        except StudioError as e:
            result.flag = no_model_error(e, "step")
            return result
        steps[step - 1] = new
        for later in steps[step:]:
            later.notes.append(f"made from the earlier version of step {step}")
        problem = chain_problem(steps)
        old_failure = str(out.payload.get("failure", ""))
        failure = (f"Every step is kept, but {problem}." if problem
                   else "" if old_failure.startswith("Every step is kept") else old_failure)
        payload = dict(out.payload, steps=[s.to_json() for s in steps], text=steps[-1].summary, failure=failure)
        self.store.update(out.id, payload=payload)
        result.new, result.replaced = new.summary, True
        return result

    def regenerate_line(self, output_id: str, index: int, *, cancel: CancelToken | None = None) -> Regenerated:
        """Write line ``index`` (0-based) of a stored podcast script again from the passages it cites (uncited:
        the closest ones); same speaker, replaced only when supported; the script is checked again."""
        out = self.store.get(output_id)
        if out.kind != "podcast":
            raise NotebookError(f"Studio output {out.id[:8]} is a {out.kind}, not a podcast.")
        script = PodcastScript.from_json(out.payload["script"])
        check_index(len(script.lines), index, "line")
        given = [_passage_from_json(d) for d in out.payload.get("passages", [])]
        by_pid = {p.pid: p for p in given}
        line = script.lines[index]
        cited = [by_pid[i] for i in line.citations if i in by_pid] or closest_passages(line.text, given)
        similarity = similarity_for(self.library)
        stats = RunStats()
        result = Regenerated(index, strip_markers(line.text), "", False)
        try:
            with self._busy:
                self.engine.info()
                new = rewrite_sentence(self.engine, line.text, cited, given, template=self.templates.get("summary"),
                                       reduce_template=self.templates.get("summary_reduce"),
                                       language=script.language, retries=self.settings.studio.retries, stats=stats,
                                       cancel=cancel, similarity=similarity)
        except StudioError as e:
            result.flag = no_model_error(e, "line")
            return result
        s = new.sentences[0]
        line.text = strip_markers(s.text) + "".join(f" [{i}]" for i in s.citations)
        line.citations = list(s.citations)
        verify_script(script, given, similarity)
        result.new, result.replaced = strip_markers(s.text), True
        self.store.update(out.id, payload=dict(out.payload, script=script.to_json(), text=script.to_markdown()))
        return result

    def regenerate_segment(self, output_id: str, segment: int, *, cancel: CancelToken | None = None,
                           progress: Progress | None = None) -> PodcastScript:
        """Write segment ``segment`` (0-based) of a stored podcast again, in its format, from the passages its
        lines cite (none: the ones closest to its topic); the other segments stay as they are. Raises
        StudioError (the old segment kept) when no attempt passes the checks."""
        out = self.store.get(output_id)
        if out.kind != "podcast":
            raise NotebookError(f"Studio output {out.id[:8]} is a {out.kind}, not a podcast.")
        script = PodcastScript.from_json(out.payload["script"])
        check_index(len(script.segments), segment, "segment")
        form = podcast_format(script.format)
        given = [_passage_from_json(d) for d in out.payload.get("passages", [])]
        seg_passages = segment_passages(script, segment, given)
        if not seg_passages:
            raise NotebookError("This podcast keeps no passages to write the segment from.")
        hosts = script.hosts[:form.speakers]
        try:
            length = normalize_length(str(out.options.get("length") or "default"))
        except NotebookError:
            length = "default"
        similarity = similarity_for(self.library)
        stats = RunStats()
        with self._busy:
            self.engine.info()
            new = write_segment(self.engine, seg_passages, segment, script.segments, title=script.title,
                                dialogue_template=self.templates.get(form.dialogue_template), hosts=hosts, fmt=form,
                                lines_per=form.budgets[length][1], audience=str(out.options.get("audience") or
                                                                                self.settings.studio.audience),
                                language=script.language, focus=str(out.options.get("focus") or ""),
                                retries=self.settings.studio.retries, stats=stats, cancel=cancel,
                                similarity=similarity, reporter=StageReporter(progress))
        at = next((i for i, ln in enumerate(script.lines) if ln.segment == segment), None)
        if at is None:  # a segment with no lines left: before the first line of a later segment
            at = next((i for i, ln in enumerate(script.lines) if ln.segment > segment), len(script.lines))
        script.lines = [ln for ln in script.lines[:at] if ln.segment != segment] + new + [
            ln for ln in script.lines[at:] if ln.segment != segment]
        verify_script(script, given, similarity)
        notes = list(out.payload.get("notes", [])) + [f"Segment {segment + 1} was regenerated."]
        self.store.update(out.id, payload=dict(out.payload, script=script.to_json(), text=script.to_markdown(),
                                               notes=notes))
        return script

    # -- written mind map, flashcards, quiz (the Extract tab's "Write with the model") -------------
    def written(self, what: str, notebook: str, source_ids: Sequence[str] | None = None, *, count: int = 10,
                difficulty: str = "medium", language: str | None = None, seed: int = 0, store: bool = True,
                progress: Progress | None = None, cancel: CancelToken | None = None,
                on_stage: OnStage | None = None) -> Any:
        """A mind map (``what`` "mindmap"), flashcards or a quiz written by the model, every item checked against
        its passages (``services/studio/mindmap_gen.py``, ``cards_gen.py``); stored with the model-free kinds."""
        from notebooklm_local.services.studio.cards_gen import generate_cards
        from notebooklm_local.services.studio.mindmap_gen import generate_mindmap

        kind = {"mindmap": "mindmap", "flashcards": "flashcards", "cards": "flashcards", "quiz": "quiz"}.get(what)
        if kind is None:
            raise NotebookError(f"Unknown output '{what}'. Choose mindmap, flashcards or quiz.")
        if kind != "mindmap":
            from notebooklm_local.services.studio.cards_gen import DIFFICULTIES, MAX_COUNT

            if difficulty not in DIFFICULTIES:
                raise NotebookError(f"Difficulty must be one of: {', '.join(DIFFICULTIES)}.")
            if not 1 <= int(count) <= MAX_COUNT:
                raise NotebookError(f"The count must be between 1 and {MAX_COUNT}.")
        lang = self._language(language)
        name = {"mindmap": "mindmap_gen", "flashcards": "flashcards_gen", "quiz": "quiz_gen"}[kind]
        template = self.templates.get(name)
        _nb, sources, _passages = self._material(notebook, source_ids)  # bad input fails before the model loads
        with self._busy:
            self.engine.info()
            common: dict[str, Any] = {
                "template": template, "language": lang, "similarity": similarity_for(self.library),
                "retries": self.settings.studio.retries, "store": store, "progress": progress, "on_stage": on_stage,
                "cancel": cancel, "provenance": self._provenance([name], sources, 0.3)}
            if kind == "mindmap":
                return generate_mindmap(self.engine, self.library, notebook, source_ids, **common)
            return generate_cards(self.engine, self.library, notebook, source_ids, what=kind, count=count,
                                  difficulty=difficulty, seed=seed, **common)

    # -- notes -----------------------------------------------------------------------------------
    def save_note(self, output_id: str, *, step: int | None = None, title: str = "",
                  tags: Sequence[str] = ()) -> Note:
        """Save a studio output (a CoD run's chosen step; default: the last) as a note with its citations."""
        out = self.store.get(output_id)
        p = out.payload
        if out.kind == "summary":
            body, cits = p["answer"]["answer"], p["answer"]["citations"]
        elif out.kind == "cod":
            steps = p.get("steps", [])
            if not steps:
                raise NotebookError("This chain of density has no steps to save.")
            n = len(steps) if step is None else step  # (0 is out of range, not "the last")
            if not 1 <= n <= len(steps):
                raise NotebookError(f"Choose a step from 1 to {len(steps)}.")
            s = steps[n - 1]
            body = s["citations"].get("answer") or s["summary"]
            cits = s["citations"].get("citations", [])
            title = title or f"{out.title[:180]} \u2014 step {n}"
        elif out.kind == "podcast":
            script = PodcastScript.from_json(p["script"])
            body, cits = script.to_markdown(with_sources=False), script.citations
        else:
            raise NotebookError(f"Cannot save a {out.kind} as a note.")
        return self.notes.add(out.notebook_id, (title or out.title)[:200], body, citations=cits, tags=list(tags),
                              origin_kind=out.kind, origin_id=out.id)


def _passage_json(p: Passage) -> dict[str, Any]:
    return {"pid": p.pid, "chunk_id": p.chunk_id, "source_id": p.source_id, "source_title": p.source_title,
            "text": p.text, "start": p.start, "end": p.end, "page": p.page, "page_end": p.page_end,
            "t_start": p.t_start, "heading": p.heading, "url": p.url}


def _passage_from_json(d: dict[str, Any]) -> Passage:
    return Passage(int(d["pid"]), int(d["chunk_id"]), str(d["source_id"]), str(d["source_title"]), str(d["text"]),
                   int(d["start"]), int(d["end"]), d.get("page"), d.get("page_end"), d.get("t_start"),
                   str(d.get("heading", "")), d.get("url"))
