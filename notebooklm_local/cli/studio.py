"""``summarize``, ``cod``, ``podcast``, ``extract`` and ``studio list|show|note|delete|regenerate``: the studio from the
command line.

Same service as the GUI's studio (``services/studio/service.py``). Ctrl-C cancels at the next token.
``summarize``, ``cod`` and ``podcast`` show the job's stage on stderr ("Reading part 2/4 · attempt 2/3 ·
120 tokens · 45 s left"): on a terminal one line kept up to date; elsewhere with ``--progress`` one line per
stage; stdout carries only the result.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any, cast

from notebooklm_local.cli.common import TerminalProgress, context, locked, resolve_sources, sigint_cancels, workspace
from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.llm import Engine
from notebooklm_local.core.studio_store import EXTRACTED_KINDS, KINDS

__all__ = ["add_studio_parsers"]

_LENGTHS = ("short", "medium", "long")
_PODCAST_LENGTHS = ("short", "default", "long", "medium")  # medium: the old name of default
_PODCAST_FORMATS = ("deep-dive", "brief", "critique", "debate")
_EXTRACT_KINDS = EXTRACTED_KINDS
_AUDIENCES = ("beginner", "general", "expert")


def add_studio_parsers(sub: Any) -> None:
    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("-n", "--notebook", required=True)
        p.add_argument("--sources", nargs="+", metavar="ID", help="source ids or titles (default: the selected ones)")
        p.add_argument("--language", default=None, help="output language (default: settings, else the sources')")
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.add_argument("--save-note", action="store_true", help="also save the result as a note")
        p.add_argument("--tag", action="append", default=[], help="tag for the saved note (repeatable)")
        p.add_argument("--progress", action="store_true", help=_PROGRESS_HELP)

    s = sub.add_parser("summarize", help="a cited summary (or briefing, study guide, FAQ) of the sources")
    common(s)
    s.add_argument("--kind", default="summary", choices=("summary", "briefing", "study_guide", "faq"))
    s.add_argument("--length", choices=_LENGTHS, default=None)
    s.add_argument("--audience", choices=_AUDIENCES, default=None)
    s.add_argument("--focus", default="", help="what to concentrate on")
    s.set_defaults(func=cmd_summarize)

    c = sub.add_parser("cod", help="chain-of-density summaries: each step denser at the same length")
    common(c)
    c.add_argument("--steps", type=int, default=None, help="number of steps (default 5)")
    c.add_argument("--words", type=int, default=None, help="word budget of every step (default 80)")
    c.add_argument("--step", type=int, default=None, help="with --save-note: which step to save (default: last)")
    c.set_defaults(func=cmd_cod)

    p = sub.add_parser("podcast", help="an audio overview (deep dive, brief, critique or debate): a script with "
                                       "citations, and optionally its audio")
    p.add_argument("-n", "--notebook", default=None, help="notebook (needed unless --from-output or --revoice)")
    p.add_argument("--sources", nargs="+", metavar="ID")
    p.add_argument("--format", choices=_PODCAST_FORMATS, default=None,
                   help="deep-dive (two hosts, default), brief (one voice, 1-2 minutes), critique (the sources' "
                        "gaps and limitations) or debate (two hosts on opposite sides)")
    p.add_argument("--language", default=None,
                   help="output language, kept as the notebook's podcast language (default: the notebook's, "
                        "else settings)")
    p.add_argument("--hosts", default=None, help="two names, comma-separated; a brief's narrator: one (default: "
                                                 "settings)")
    p.add_argument("--persona-a", default="")
    p.add_argument("--persona-b", default="")
    p.add_argument("--audience", choices=_AUDIENCES, default=None)
    p.add_argument("--length", choices=_PODCAST_LENGTHS, default=None, metavar="short|default|long",
                   help="segments x lines budget (default: settings)")
    p.add_argument("--focus", default="", help="what the episode concentrates on")
    p.add_argument("--from-output", metavar="ID", help="use a stored podcast instead of writing a new one")
    p.add_argument("--revoice", metavar="ID", help="speak a stored podcast again after edits: only changed lines are "
                                                   "synthesised (into its last audio file, or --audio)")
    p.add_argument("--script", type=Path, metavar="FILE.md",
                   help="with --from-output: replace its script with this edited Markdown; with -n: store this "
                        "hand-written script as a new podcast, no model (citations checked either way)")
    p.add_argument("--draft", type=Path, metavar="FILE.md",
                   help="with -n: write a script to start from (cited source sentences, and the passages to "
                        "cite), no model; edit it, then store it with --script")
    p.add_argument("--progress", action="store_true", help=_PROGRESS_HELP)
    p.add_argument("--script-out", type=Path, metavar="FILE.md", help="write the script as Markdown")
    p.add_argument("--audio", type=Path, metavar="OUT.wav", help="render audio (.wav, or .mp3/.ogg with an encoder)")
    p.add_argument("--tts", default=None, help="TTS engine (default: settings; espeak-ng built in)")
    p.add_argument("--voice-a", default=None)
    p.add_argument("--voice-b", default=None)
    p.add_argument("--force", action="store_true", help="overwrite existing --audio/--script-out files")
    p.add_argument("--json", action="store_true")
    p.add_argument("--save-note", action="store_true")
    p.add_argument("--tag", action="append", default=[])
    p.set_defaults(func=cmd_podcast)

    e = sub.add_parser("extract", help="model-free outputs made of verbatim, cited source sentences (no model)",
                       description="Summary, key quotes, flashcards, quiz, mind map, timeline (dated events) or data "
                                   "table (numeric facts) made only of source sentences, each cited to its exact span. "
                                   "Nothing is generated; no model is loaded.")
    e.add_argument("what", choices=("summary", "quotes", "flashcards", "quiz", "mindmap", "timeline", "table"))
    e.add_argument("-n", "--notebook", required=True)
    e.add_argument("--sources", nargs="+", metavar="ID", help="source ids or titles (default: the selected ones)")
    e.add_argument("--length", choices=_LENGTHS, default="medium", help="summary length (default medium)")
    e.add_argument("--count", type=int, default=None,
                   help="quotes per source (5), flashcards (20) or quiz questions (10)")
    e.add_argument("--seed", type=int, default=0, help="quiz: order of the options (same seed, same quiz)")
    e.add_argument("--points", type=int, default=2, help="mind map: key sentences under each leaf (default 2)")
    e.add_argument("--embeddings", action="store_true", help="mind map: group passages by their embeddings")
    e.add_argument("--generate", action="store_true",
                   help="mindmap, flashcards, quiz, timeline, table: written by the chat model (needs an instruct "
                        "model); every concept, answer or row is checked against its passage (a timeline row that "
                        "fails is flagged, a card, question or concept that fails is dropped)")
    e.add_argument("--difficulty", choices=("easy", "medium", "hard"), default="medium",
                   help="with --generate: how hard the flashcards or quiz questions are (default medium)")
    e.add_argument("--format", choices=("md", "json", "csv", "apkg", "opml"), default=None,
                   help="md (default), json; csv (flashcards, quiz, timeline, table); apkg (flashcards, quiz; "
                        "needs --out); opml (mind map)")
    e.add_argument("-o", "--out", type=Path, metavar="FILE", help="write to FILE instead of printing")
    e.add_argument("--force", action="store_true", help="overwrite --out")
    e.add_argument("--no-store", action="store_true", help="do not keep it in the studio history")
    e.add_argument("--save-note", action="store_true", help="also save it as a note (with its citations)")
    e.add_argument("--tag", action="append", default=[], help="tag for the saved note (repeatable)")
    e.set_defaults(func=cmd_extract)

    st = sub.add_parser("studio", help="list, show, save as note or delete studio outputs")
    sts = st.add_subparsers(dest="studio_command", metavar="ACTION", required=True)
    x = sts.add_parser("list", help="the notebook's summaries, chains of density and podcasts")
    x.add_argument("-n", "--notebook", required=True)
    x.add_argument("--kind", choices=KINDS)
    x.add_argument("--json", action="store_true")
    x.set_defaults(func=cmd_studio_list)
    x = sts.add_parser("show", help="one output")
    x.add_argument("id")
    x.add_argument("--step", type=int, default=None, help="a chain of density's step")
    fmt = x.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--markdown", action="store_true", help="a podcast's script as editable Markdown")
    x.set_defaults(func=cmd_studio_show)
    x = sts.add_parser("note", help="save an output (a chain's step) as a note with its citations")
    x.add_argument("id")
    x.add_argument("--step", type=int, default=None)
    x.add_argument("--title", default="")
    x.add_argument("--tag", action="append", default=[])
    x.set_defaults(func=cmd_studio_note)
    x = sts.add_parser("delete", help="delete an output")
    x.add_argument("id")
    x.set_defaults(func=cmd_studio_delete)
    x = sts.add_parser("regenerate", help="write one flagged summary sentence, podcast line or chain-of-density "
                                          "step again (it replaces the old one only when it passes the checks)")
    x.add_argument("id")
    which = x.add_mutually_exclusive_group(required=True)
    which.add_argument("--sentence", type=int, metavar="N", help="a summary's sentence (1-based)")
    which.add_argument("--line", type=int, metavar="N", help="a podcast script's line (1-based)")
    which.add_argument("--segment", type=int, metavar="N", help="a podcast script's segment (1-based), written again "
                                                               "as a whole")
    which.add_argument("--step", type=int, metavar="N", help="a chain of density's step (1-based)")
    x.set_defaults(func=cmd_studio_regenerate)


# -- plumbing ----------------------------------------------------------------------------------------


def _studio(args: argparse.Namespace, *, engine: bool = True) -> Any:
    from notebooklm_local.workspace import open_studio

    ws = workspace(args)
    # a command that generates opens the index too: its embedder gives the grounding check its semantic signal
    lib = ws.library_service(with_index=engine)
    if engine:
        return ws.paths, ws.studio()
    return ws.paths, open_studio(ws.paths, ws.settings, library=lib, engine=cast(Engine, _NoEngine()),
                                 registry=ws.registry)


class _NoEngine:
    """For commands that only read stored outputs: opening the model would cost seconds for nothing. Not a
    full Engine: any generating call on it fails with a clear message (its info())."""

    n_ctx = 0

    def info(self) -> Any:
        raise NotebookError("no model is needed for this command")

    def close(self) -> None:
        return None


def _ids(studio: Any, notebook: str, sources: list[str] | None) -> list[str] | None:
    return resolve_sources(studio.library, notebook, sources) if sources else None


_PROGRESS_HELP = "show the stages on stderr also when it is not a terminal (one line per stage)"


class StageLine:
    """A studio job's stage (``services.studio.stages.StageReport``) on stderr.

    On a terminal: one line rewritten in place, and redrawn every second by a ticker thread so the seconds
    and the time left move while the model reads a long prompt. Not a terminal: with ``force``
    (``--progress``) one line per stage or attempt (and every 5 s while tokens stream); else nothing.
    Like ``TerminalProgress`` it falls silent when stderr is gone instead of failing the work.
    """

    def __init__(self, force: bool = False) -> None:
        try:
            self.tty = sys.stderr.isatty()
        except (OSError, ValueError, AttributeError):
            self.tty = False
        self.enabled = self.tty or force
        self.report: Any = None
        self.key: tuple[Any, ...] = ()
        self.printed = 0.0
        self.broken = False
        self.drawn = False
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.ticker: threading.Thread | None = None
        if self.enabled and self.tty:
            self.ticker = threading.Thread(target=self._tick, name="stage-line", daemon=True)
            self.ticker.start()

    def _write(self, text: str, end: str) -> None:
        if self.broken:
            return
        try:
            print(text, end=end, file=sys.stderr, flush=True)
        except (OSError, ValueError):
            self.broken = True

    def _draw(self) -> None:  # with the lock held
        if self.report is None:
            return
        width = max(20, shutil.get_terminal_size((100, 20)).columns - 1)
        self._write("\r\033[K" + self.report.text(time.monotonic())[:width], "")
        self.drawn = True

    def _tick(self) -> None:
        while not self.stop.wait(1.0):
            with self.lock:
                if self.report is not None and not self.report.final:
                    self._draw()

    def __call__(self, report: Any) -> None:
        if not self.enabled:
            return
        with self.lock:
            self.report = report
            if self.tty:
                self._draw()
                return
            now = time.monotonic()
            key = (report.label, report.attempt, report.final)
            if key != self.key or (report.tokens and now - self.printed >= 5.0):
                self.key, self.printed = key, now
                self._write(report.text(now), "\n")

    def clear(self) -> None:
        """Take the line off the terminal (before printing something else there)."""
        with self.lock:
            if self.tty and self.drawn:
                self._write("\r\033[K", "")
                self.drawn = False

    def close(self) -> None:
        self.stop.set()
        if self.ticker is not None:
            self.ticker.join(timeout=2)
        self.clear()


def _run_staged(studio: Any, args: argparse.Namespace, fn: Any, line: StageLine | None = None) -> Any:
    """``fn(on_stage, token)``: a studio job with its stages on stderr (see :class:`StageLine`)."""
    token = CancelToken()
    line = line or StageLine(getattr(args, "progress", False))
    if line.enabled and line.tty:
        line._write("Loading the model\u2026", "")  # noqa: SLF001 - the first stage comes once it is loaded
        line.drawn = True
    try:
        with sigint_cancels(token):
            return fn(line, token)
    finally:
        line.close()
        studio.engine.close()


def _run(studio: Any, fn: Any) -> Any:
    token = CancelToken()
    progress = TerminalProgress()
    try:
        with sigint_cancels(token):
            return fn(progress, token)
    finally:
        progress.close()
        studio.engine.close()


def _print_stats(stats: dict[str, Any], model: str) -> None:
    print(f"[{model} · {stats['calls']} call(s), {stats['failed_attempts']} rejected · prompt "
          f"{stats['prompt_tokens']} tok {stats['prompt_eval_s']:.1f}s · generated {stats['completion_tokens']} tok "
          f"{stats['generation_s']:.1f}s · wall {stats['wall_s']:.1f}s]", file=sys.stderr)


def _print_citations(citations: list[dict[str, Any]]) -> None:
    if citations:
        print("Citations:")
    for c in citations:
        loc = f", {c['location']}" if c.get("location") else ""
        quote = " ".join(str(c.get("quote", "")).split())
        quote = quote if len(quote) <= 200 else quote[:199] + "\u2026"
        print(f"  [{c['passage_id']}] {c['source_title']}{loc} \u2014 \u201c{quote}\u201d")


def _print_cited(answer: dict[str, Any]) -> None:
    print(answer["answer"])
    print()
    _print_citations(answer.get("citations", []))
    flagged = [s for s in answer.get("sentences", []) if not s.get("supported")]
    if flagged:
        print("Not supported by the sources (flagged):")
        for s in flagged:
            print(f"  ! {' '.join(s['text'].split())[:160]} \u2014 {s['flag']}")


def _maybe_note(studio: Any, args: argparse.Namespace, output_id: str, step: int | None = None) -> None:
    if getattr(args, "save_note", False):
        note = studio.save_note(output_id, step=step, tags=args.tag)
        print(f"Saved as note {note.id[:8]}: {note.title}", file=sys.stderr)


# -- commands ----------------------------------------------------------------------------------------


def cmd_summarize(args: argparse.Namespace) -> int:
    paths, studio = _studio(args)
    with locked(paths):
        ids = _ids(studio, args.notebook, args.sources)
        r = _run_staged(studio, args, lambda on_stage, token: studio.summarize(
            args.notebook, ids, template=args.kind, length=args.length, audience=args.audience, focus=args.focus,
            language=args.language, on_stage=on_stage, cancel=token))
        _maybe_note(studio, args, r.output.id)
    if args.json:
        print(json.dumps(r.output.to_json(), indent=2, ensure_ascii=False))
        return 0
    print(f"# {r.output.title}\n")
    _print_cited(r.answer.to_json())
    for n in r.notes:
        print(f"Note: {n}")
    print(f"Saved as studio output {r.output.id[:8]}.", file=sys.stderr)
    _print_stats(r.stats.to_json(), r.output.model)
    return 0


def _print_step(step: dict[str, Any], *, verbose: bool = True) -> None:
    print(f"Step {step['index']} \u2014 {step['words']} words, {len(step['entities'])} entities, "
          f"density {step['density']:.3f}" + (f" (+ {', '.join(step['missing_entities'])})"
                                               if step["missing_entities"] else ""))
    print(f"  {step['summary']}")
    if verbose:
        for r in step.get("rejected_entities", []):
            print(f"  ! rejected entity \u201c{r['entity']}\u201d: {r['reason']}")
        for n in step.get("notes", []):
            print(f"  note: {n}")


def cmd_cod(args: argparse.Namespace) -> int:
    paths, studio = _studio(args)
    with locked(paths):
        ids = _ids(studio, args.notebook, args.sources)

        line = StageLine(args.progress)

        def on_step(step: Any) -> None:
            if not args.json:
                line.clear()
                print(file=sys.stderr)
                _print_step(step.to_json())

        r = _run_staged(studio, args, lambda on_stage, token: studio.chain_of_density(
            args.notebook, ids, steps=args.steps, words=args.words, language=args.language, on_stage=on_stage,
            cancel=token, on_step=on_step), line)
        _maybe_note(studio, args, r.output.id, args.step)
    if args.json:
        print(json.dumps(r.output.to_json(), indent=2, ensure_ascii=False))
    else:
        for n in r.notes:
            print(f"Note: {n}")
        print(f"Saved as studio output {r.output.id[:8]} ({len(r.steps)} step(s)).", file=sys.stderr)
        _print_stats(r.stats.to_json(), r.output.model)
    if r.failure:
        print(f"error: {r.failure}", file=sys.stderr)
        return 1
    return 0


def _read_script(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise NotebookError(f"Cannot read {path}: {e}") from e


def _podcast_draft(args: argparse.Namespace) -> int:
    """``podcast -n NB --draft FILE.md``: a script to start from, no model."""
    if not args.notebook:
        raise NotebookError("--draft needs a notebook (-n NAME).")
    _write_guard(args.draft, args.force)
    hosts = [h.strip() for h in args.hosts.split(",")] if args.hosts else [None, None]
    if len(hosts) != 2:
        raise NotebookError("--hosts takes two names, comma-separated, e.g. --hosts \"Ada,Grace\".")
    paths, studio = _studio(args, engine=False)
    with locked(paths):
        text = studio.draft_script(args.notebook, _ids(studio, args.notebook, args.sources), host_a=hosts[0],
                                   host_b=hosts[1])
    args.draft.parent.mkdir(parents=True, exist_ok=True)
    args.draft.write_text(text, encoding="utf-8")
    print(f"Draft written to {args.draft}; edit it, then: podcast -n {args.notebook} --script {args.draft}",
          file=sys.stderr)
    return 0


def _write_guard(path: Path, force: bool) -> None:
    if ".." in path.parts:
        raise NotebookError(f"Refusing a path with '..': {path}")
    if path.exists() and not force:
        raise NotebookError(f"{path} exists; use --force to overwrite it.")


def _podcast_revoice(args: argparse.Namespace) -> int:
    """``podcast --revoice ID [--audio FILE]``: speak a stored podcast again; unchanged lines come from the cache."""
    if args.audio is not None:
        _write_guard(args.audio, True)
    paths, studio = _studio(args, engine=False)
    with locked(paths):
        out = studio.store.get(args.revoice)
        token = CancelToken()
        progress = TerminalProgress()
        try:
            with sigint_cancels(token):
                audio = studio.revoice(out.id, args.audio, engine=args.tts, progress=progress, cancel=token)
        finally:
            progress.close()
    total = len(audio.segments)
    if args.json:
        print(json.dumps({"id": out.id, "path": str(audio.path), "duration_s": round(audio.duration_s, 2),
                          "lines": total, "spoken": audio.spoken, "engine": audio.engine, "voices": audio.voices},
                         indent=2, ensure_ascii=False))
    print(f"Re-voiced {out.id[:8]}: {audio.spoken} of {total} lines spoken again, the others reused; "
          f"{audio.path} ({audio.duration_s:.1f}s)", file=sys.stderr)
    return 0


def cmd_podcast(args: argparse.Namespace) -> int:
    if args.revoice is not None:
        return _podcast_revoice(args)
    if args.from_output is None and not args.notebook:
        raise NotebookError("Give a notebook (-n NAME) or a stored podcast (--from-output ID).")
    if args.draft is not None:
        return _podcast_draft(args)
    for p in (args.audio, args.script_out):
        if p is not None:
            _write_guard(p, args.force)
    hosts = [h.strip() for h in args.hosts.split(",")] if args.hosts else [None, None]
    if len(hosts) == 1 and args.format == "brief":  # a brief has one narrator
        hosts.append(None)
    if len(hosts) != 2:
        raise NotebookError("--hosts takes two names, comma-separated, e.g. --hosts \"Ada,Grace\" (a brief: one).")
    hand_written = args.script is not None and args.from_output is None
    paths, studio = _studio(args, engine=args.from_output is None and not hand_written)
    with locked(paths):
        stats = None
        if args.from_output is not None:
            out = studio.store.get(args.from_output)
            if args.script is not None:
                try:
                    text = args.script.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError) as e:
                    raise NotebookError(f"Cannot read {args.script}: {e}") from e
                script = studio.update_script(out.id, text)
                print(f"Updated the script of {out.id[:8]} ({len(script.lines)} lines, "
                      f"{len(script.unsupported)} flagged).", file=sys.stderr)
            else:
                script = studio.script_of(out.id)
        elif hand_written:
            r = studio.new_script(args.notebook, _read_script(args.script), _ids(studio, args.notebook, args.sources),
                                  host_a=hosts[0], host_b=hosts[1], language=args.language)
            out, script = r.output, r.script
            print(f"Stored the script as podcast {out.id[:8]} ({len(script.lines)} lines, "
                  f"{len(script.unsupported)} flagged).", file=sys.stderr)
        else:
            ids = _ids(studio, args.notebook, args.sources)
            r = _run_staged(studio, args, lambda on_stage, token: studio.podcast_script(
                args.notebook, ids, host_a=hosts[0], host_b=hosts[1], persona_a=args.persona_a,
                persona_b=args.persona_b, audience=args.audience, length=args.length, language=args.language,
                focus=args.focus, format=args.format, on_stage=on_stage, cancel=token))
            out, script, stats = r.output, r.script, r.stats
            for n in r.notes:
                print(f"Note: {n}", file=sys.stderr)
        _maybe_note(studio, args, out.id)
        if args.script_out is not None:
            args.script_out.parent.mkdir(parents=True, exist_ok=True)
            args.script_out.write_text(script.export_markdown(), encoding="utf-8")
            print(f"Script written to {args.script_out}", file=sys.stderr)
        audio = None
        if args.audio is not None:
            voices = {}
            names = [h.name for h in script.hosts]
            if args.voice_a and names:
                voices[names[0]] = args.voice_a
            if args.voice_b and len(names) > 1:
                voices[names[1]] = args.voice_b
            token = CancelToken()
            progress = TerminalProgress()
            try:
                with sigint_cancels(token):
                    audio = studio.podcast_audio(out.id, args.audio, engine=args.tts, voices=voices or None,
                                                 progress=progress, cancel=token)
            finally:
                progress.close()
    if args.json:
        d = studio.store.get(out.id).to_json()
        if audio is not None:
            d["audio_render"] = {"path": str(audio.path), "duration_s": round(audio.duration_s, 2),
                                 "render_s": round(audio.render_s, 2), "engine": audio.engine, "voices": audio.voices}
        print(json.dumps(d, indent=2, ensure_ascii=False))
    else:
        print(script.export_markdown())
        print(f"Studio output {out.id[:8]}.", file=sys.stderr)
        if stats is not None:
            _print_stats(stats.to_json(), out.model)
    if audio is not None:
        print(f"Audio: {audio.path} ({audio.duration_s:.1f}s of speech, rendered in {audio.render_s:.2f}s by "
              f"{audio.engine}; voices {', '.join(f'{k}={v}' for k, v in audio.voices.items())})", file=sys.stderr)
    return 0


def cmd_studio_list(args: argparse.Namespace) -> int:
    _paths, studio = _studio(args, engine=False)
    nb = studio.library.library.notebook(args.notebook)
    outs = studio.store.list(nb.id, args.kind)
    if args.json:
        print(json.dumps([{k: v for k, v in o.to_json().items() if k in
                           ("id", "kind", "title", "created", "model", "template", "options", "source_ids")}
                          for o in outs], indent=2, ensure_ascii=False))
        return 0
    if not outs:
        print(f"no studio outputs in '{nb.name}' yet — try: notebooklm-local summarize -n \"{nb.name}\"")
    import time as _time

    for o in outs:
        when = _time.strftime("%Y-%m-%d %H:%M", _time.localtime(o.created))
        print(f"{o.id[:8]}  {o.kind:<8} {when}  {o.title}")
    return 0


def cmd_studio_show(args: argparse.Namespace) -> int:
    _paths, studio = _studio(args, engine=False)
    out = studio.store.get(args.id)
    if args.json:
        print(json.dumps(out.to_json(), indent=2, ensure_ascii=False))
        return 0
    p = out.payload
    if out.kind in _EXTRACT_KINDS:
        if args.markdown:
            raise NotebookError("--markdown shows a podcast's script; this output is a " + out.kind)
        print(_extractive(args).load(out.id).to_markdown(), end="")
        return 0
    if args.markdown or out.kind == "podcast":
        if out.kind != "podcast":
            raise NotebookError("--markdown shows a podcast's script; this output is a " + out.kind)
        print(studio.script_of(out.id).export_markdown(), end="")
        return 0
    print(f"# {out.title}\n")
    print(f"({out.kind}, {out.model}, template {out.template}, options {json.dumps(out.options)})\n")
    if out.kind == "summary":
        _print_cited(p["answer"])
    elif out.kind == "cod":
        steps = p.get("steps", [])
        chosen = [s for s in steps if args.step in (None, s["index"])]
        if args.step is not None and not chosen:
            raise NotebookError(f"Choose a step from 1 to {len(steps)}.")
        for s in chosen:
            _print_step(s)
            print()
        if args.step is not None:
            _print_citations(chosen[0]["citations"].get("citations", []))
        if p.get("failure"):
            print(f"Stopped early: {p['failure']}")
    for n in p.get("notes", []):
        print(f"Note: {n}")
    if p.get("provenance"):
        print(_provenance_line(p["provenance"]))
    return 0


def _provenance_line(pv: dict[str, Any]) -> str:
    """One line saying how an output was made (issue 14)."""
    import datetime

    when = datetime.datetime.fromtimestamp(float(pv.get("created", 0))).strftime("%Y-%m-%d %H:%M")
    model = pv.get("model", "?") + (f" ({pv['quantization']})" if pv.get("quantization") else "")
    tpls = ", ".join(f"{t['name']}@{t['sha256'][:8]}" + ("" if t.get("origin") == "default" else f" ({t['origin']})")
                     for t in pv.get("templates", []))
    srcs = ", ".join(f"{s['title']}@{(s.get('sha256') or '')[:8]}" for s in pv.get("sources", [])[:5])
    more = len(pv.get("sources", [])) - 5
    return (f"Made with {model} · n_ctx {pv.get('n_ctx')} · temperature {pv.get('temperature')} · seed "
            f"{pv.get('seed')} · templates {tpls} · sources {srcs}" + (f" + {more} more" if more > 0 else "")
            + f" · {when}")


def cmd_studio_note(args: argparse.Namespace) -> int:
    paths, studio = _studio(args, engine=False)
    with locked(paths):
        if studio.store.get(args.id).kind in _EXTRACT_KINDS:
            note = _extractive(args).save_note(args.id, title=args.title, tags=args.tag)
        else:
            note = studio.save_note(args.id, step=args.step, title=args.title, tags=args.tag)
    print(f"Saved as note {note.id[:8]}: {note.title}")
    return 0


def cmd_studio_delete(args: argparse.Namespace) -> int:
    paths, studio = _studio(args, engine=False)
    with locked(paths):
        out = studio.store.get(args.id)
        studio.store.delete(out.id)
    print(f"Deleted {out.kind} {out.id[:8]}: {out.title}")
    return 0


def cmd_studio_regenerate(args: argparse.Namespace) -> int:
    paths, studio = _studio(args)
    with locked(paths):
        out = studio.store.get(args.id)

        def fn(progress: Any, token: CancelToken) -> Any:
            if args.step is not None:
                return studio.regenerate_step(out.id, args.step, cancel=token)
            if args.line is not None:
                return studio.regenerate_line(out.id, args.line - 1, cancel=token)
            if args.segment is not None:
                return studio.regenerate_segment(out.id, args.segment - 1, cancel=token)
            return studio.regenerate_sentence(out.id, args.sentence - 1, cancel=token)

        r = _run(studio, fn)
    if args.segment is not None:
        lines = [ln for ln in r.lines if ln.segment == args.segment - 1]
        print(f"Segment {args.segment} rewritten ({len(lines)} lines, {sum(not ln.supported for ln in lines)} "
              f"flagged):")
        for ln in lines:
            mark = "" if ln.supported else "  \u26a0"
            print(f"  {ln.speaker}: {ln.text}{mark}")
        print(f"Speak it again with: podcast --revoice {out.id[:8]}", file=sys.stderr)
        return 0
    if not r.replaced:
        print(r.flag, file=sys.stderr)
        return 1
    print(f"Replaced: {r.old}\n      by: {r.new}")
    return 0


# -- extract (no model) ------------------------------------------------------------------------------


def _extractive(args: argparse.Namespace) -> Any:
    from notebooklm_local.services.studio.extractive import ExtractiveStudio

    embeddings = getattr(args, "embeddings", False)
    return ExtractiveStudio(workspace(args).library_service(with_index=embeddings), use_embeddings=embeddings)


def cmd_extract(args: argparse.Namespace) -> int:
    from notebooklm_local.services.studio.extractive import EXTRACT_KINDS, FORMATS

    kind = EXTRACT_KINDS[args.what]
    fmt = args.format or (args.out.suffix.lstrip(".").lower() if args.out is not None and
                          args.out.suffix.lstrip(".").lower() in FORMATS[kind] else "md")
    if fmt not in FORMATS[kind]:
        raise NotebookError(f"{args.what} exports as {', '.join(FORMATS[kind])}, not {fmt}.")
    if fmt == "apkg" and args.out is None:
        raise NotebookError("--format apkg writes a file: give --out FILE.apkg.")
    if args.out is not None:
        _write_guard(args.out, args.force)
    if getattr(args, "generate", False):
        return _extract_generated(args, fmt)
    paths, _settings = context(args)
    studio = _extractive(args)
    with locked(paths):
        ids = resolve_sources(studio.library, args.notebook, args.sources) if args.sources else None
        r = studio.make(args.what, args.notebook, ids, store=not args.no_store, length=args.length, count=args.count,
                        seed=args.seed, points=args.points, use_embeddings=args.embeddings)
        if args.save_note:
            if r.output is None:
                raise NotebookError("--save-note needs the output stored (drop --no-store).")
            _save_note_of(studio, r.output.id, args.tag)
    _write_extract(r.result, fmt, args.out)
    stored = f"stored as {r.output.id[:8]}" if r.output is not None else "not stored"
    print(f"[{r.kind}: {_count(r.result)} · {r.seconds:.2f}s · {stored} · no model]", file=sys.stderr)
    return 0


def _write_extract(result: Any, fmt: str, out: Path | None) -> None:
    """An Extract output to ``out`` in ``fmt``, or to stdout when no file is given."""
    from notebooklm_local.services.studio.extractive import ExtractiveStudio

    if out is not None:
        ExtractiveStudio.export(result, fmt, out)
        print(f"Written to {out} ({fmt}).", file=sys.stderr)
    else:
        print(ExtractiveStudio.render(result, fmt), end="")


def _save_note_of(studio: Any, output_id: str, tags: Any) -> None:
    """Save a stored Extract output as a note and say so on stderr."""
    note = studio.save_note(output_id, tags=tags)
    print(f"Saved as note {note.id[:8]}: {note.title}", file=sys.stderr)


def _extract_generated(args: argparse.Namespace, fmt: str) -> int:
    """``extract timeline|table --generate``: the model writes the rows, each checked against its passage."""
    from notebooklm_local.services.grounding import similarity_for
    from notebooklm_local.services.studio.timeline_gen import generate

    if args.what in ("mindmap", "flashcards", "quiz"):
        return _extract_written(args, fmt)
    if args.what not in ("timeline", "table"):
        raise NotebookError("--generate is for the mind map, flashcards, quiz, timeline and table; the summary and "
                            "the key quotes need no model.")
    paths, studio = _studio(args)
    with locked(paths):
        ids = _ids(studio, args.notebook, args.sources)
        r = _run(studio, lambda progress, token: generate(
            studio.engine, studio.library, args.notebook, ids, what=args.what,
            similarity=similarity_for(studio.library), retries=studio.settings.studio.retries,
            store=not args.no_store, progress=progress, cancel=token))
        if args.save_note and r.output is not None:
            _save_note_of(_extractive(args), r.output.id, args.tag)
    _write_extract(r.result, fmt, args.out)
    flagged = sum(1 for x in (r.result.events if args.what == "timeline" else r.result.rows) if not x.supported)
    stored = f"stored as {r.output.id[:8]}" if r.output is not None else "not stored"
    print(f"[{r.kind}: {_count(r.result)}, {flagged} flagged · {stored}]", file=sys.stderr)
    _print_stats(r.stats.to_json(), r.result.model)
    return 0


def _extract_written(args: argparse.Namespace, fmt: str) -> int:
    """``extract mindmap|flashcards|quiz --generate``: the model writes it; every concept or answer is checked
    against its passage and one that fails is dropped (an answer is first written again once)."""

    paths, studio = _studio(args)
    with locked(paths):
        ids = _ids(studio, args.notebook, args.sources)
        r = _run(studio, lambda progress, token: studio.written(
            args.what, args.notebook, ids, count=args.count or 10, difficulty=args.difficulty, seed=args.seed,
            store=not args.no_store, progress=progress, cancel=token))
        if args.save_note and r.output is not None:
            _save_note_of(_extractive(args), r.output.id, args.tag)
    _write_extract(r.result, fmt, args.out)
    stored = f"stored as {r.output.id[:8]}" if r.output is not None else "not stored"
    print(f"[{r.kind}: {_count(r.result)}, {len(r.dropped)} dropped by the checks · {stored}]", file=sys.stderr)
    for why in r.dropped[:5]:
        print(f"  dropped: {why}", file=sys.stderr)
    _print_stats(r.stats.to_json(), r.result.model)
    return 0


def _count(result: Any) -> str:
    d = result.to_json()
    if "cards" in d:
        return f"{len(d['cards'])} card(s)"
    if "questions" in d:
        return f"{len(d['questions'])} question(s)"
    if "root" in d:
        return f"{len(result.nodes)} node(s)"
    if "events" in d:
        return f"{len(d['events'])} dated event(s)"
    if "rows" in d:
        return f"{len(d['rows'])} row(s)"
    return f"{len(d['citations'])} sentence(s)"
