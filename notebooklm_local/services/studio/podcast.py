"""Podcast script: an outline (title, segments naming their passages), then the dialogue of each segment,
every line citing passages and checked like an answer's sentences."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from notebooklm_local.core.citations import (
    Passage,
    format_passages,
    mostly_unsupported,
    strip_markers,
    verify_sentences,
)
from notebooklm_local.core.density import degenerate_reason
from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.grounding import Similarity
from notebooklm_local.core.jobs import CancelToken
from notebooklm_local.core.llm import Engine
from notebooklm_local.core.podcast_script import (
    PODCAST_FORMATS,
    PODCAST_LENGTHS,
    Host,
    PodcastFormat,
    PodcastLine,
    PodcastScript,
    budget,
    podcast_format,
)
from notebooklm_local.core.templates import PromptTemplate
from notebooklm_local.core.textutil import content_words, normalize_for_match
from notebooklm_local.services.studio.common import Progress, RunStats, generate_structured, messages_for
from notebooklm_local.services.studio.stages import StageReporter

__all__ = ["PODCAST_FORMATS", "PODCAST_LENGTHS", "write_script", "write_segment", "segment_passages",
           "select_passages", "verify_script", "example_titles", "draft_markdown"]


def select_passages(passages: Sequence[Passage], count: Callable[[str], int], room: int) -> list[Passage]:
    """As many passages as fit ``room`` tokens, spread evenly over each source (not just its beginning),
    renumbered 1..n."""
    by_source: dict[str, list[Passage]] = {}
    for p in passages:
        by_source.setdefault(p.source_id, []).append(p)
    sizes = {p.pid: count(p.text) + 24 for p in passages}
    if sum(sizes.values()) <= room:
        chosen = list(passages)
    else:
        # round-robin over sources; within a source, evenly spaced positions
        orders = []
        for ps in by_source.values():
            n = len(ps)
            idx: list[int] = []
            seen: set[int] = set()
            step = n
            while len(idx) < n:
                for k in range(0, n, max(1, step)):
                    if k not in seen:
                        seen.add(k)
                        idx.append(k)
                step = max(1, step // 2)
            orders.append([ps[k] for k in idx])
        chosen, used = [], 0
        while any(orders):
            for o in orders:
                if not o:
                    continue
                p = o.pop(0)
                if used + sizes[p.pid] <= room:
                    chosen.append(p)
                    used += sizes[p.pid]
            if used >= room * 0.97:
                break
        order = {p.pid: i for i, p in enumerate(passages)}
        chosen.sort(key=lambda p: order[p.pid])
    return [Passage(i + 1, p.chunk_id, p.source_id, p.source_title, p.text, p.start, p.end, p.page, p.page_end,
                    p.t_start, p.heading, p.url) for i, p in enumerate(chosen)]


def _outline_schema(n_passages: int, segments: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "title": {"type": "string", "maxLength": 90},
            "segments": {
                "type": "array", "minItems": segments, "maxItems": segments,
                "items": {
                    "type": "object",
                    "properties": {
                        "topic": {"type": "string", "maxLength": 90},
                        "passages": {"type": "array", "maxItems": 4,
                                     "items": {"type": "integer", "minimum": 1, "maximum": max(1, n_passages)}},
                    },
                    "required": ["topic", "passages"],
                },
            },
        },
        "required": ["title", "segments"],
    }


def _dialogue_schema(hosts: Sequence[str], n_passages: int, lines: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "lines": {
                "type": "array", "minItems": 2, "maxItems": lines + 2,
                "items": {
                    "type": "object",
                    "properties": {
                        "speaker": {"type": "string", "enum": list(hosts)},
                        "text": {"type": "string", "maxLength": 300},
                        "citations": {"type": "array", "maxItems": 2,
                                      "items": {"type": "integer", "minimum": 1, "maximum": max(1, n_passages)}},
                    },
                    "required": ["speaker", "text", "citations"],
                },
            },
        },
        "required": ["lines"],
    }


def _by_topic(topic: str, passages: Sequence[Passage], k: int = 2) -> list[int]:
    tw = set(content_words(topic))
    scored = sorted(passages, key=lambda p: -len(tw & set(content_words(p.text))))
    return [p.pid for p in scored[:k]]


_EXAMPLE_TITLE = re.compile(r'"title"\s*:\s*"([^"]{1,120})"')


def example_titles(template: PromptTemplate) -> list[str]:
    """The episode titles the outline prompt shows as examples (``"title": "..."``): an outline that returns one
    of them copied the prompt instead of naming the episode."""
    return list(dict.fromkeys(m.group(1) for part in (template.system, template.user)
                              for m in _EXAMPLE_TITLE.finditer(part or "")))


def _check_outline(data: Any, passages: Sequence[Passage], segments: int, examples: Sequence[str] = (),
                   ) -> tuple[str, list[str], list[list[int]], list[str]]:
    if not isinstance(data, dict) or not isinstance(data.get("segments"), list):
        raise ValueError("the plan has no list of segments")
    copied = normalize_for_match(" ".join(str(data.get("title", "")).split()))
    if copied and any(copied == normalize_for_match(e) for e in examples):
        raise ValueError(f"the title \u201c{' '.join(str(data['title']).split())}\u201d is the prompt's example, "
                         "not a title for these sources")
    topics: list[str] = []
    refs: list[list[int]] = []
    notes: list[str] = []
    valid = {p.pid for p in passages}
    for seg in data["segments"]:
        if not isinstance(seg, dict):
            continue
        topic = " ".join(str(seg.get("topic", "")).split())[:90]
        if not topic:
            continue
        if any(normalize_for_match(topic) == normalize_for_match(t) for t in topics):
            continue
        ids = [i for i in (seg.get("passages") or []) if isinstance(i, int) and i in valid]
        if not ids:
            ids = _by_topic(topic, passages)
            notes.append(f"Segment \u201c{topic}\u201d named no passage; it uses the passages closest to its topic.")
        topics.append(topic)
        refs.append(list(dict.fromkeys(ids)))
    if len(topics) < min(2, segments):
        raise ValueError(f"the plan has {len(topics)} distinct segment(s), {segments} were asked for")
    if (why := degenerate_reason(" ".join(topics))) is not None:
        raise ValueError(why)
    title = " ".join(str(data.get("title", "")).split())[:90]
    return title, topics, refs, notes


def _check_dialogue(data: Any, hosts: Sequence[str], passages: Sequence[Passage],
                    similarity: Similarity | None = None, fmt: str = "deep-dive") -> list[tuple[str, str, list[int]]]:
    if not isinstance(data, dict) or not isinstance(data.get("lines"), list):
        raise ValueError("the segment has no list of lines")
    lines: list[tuple[str, str, list[int]]] = []
    for it in data["lines"]:
        if not isinstance(it, dict):
            continue
        speaker = str(it.get("speaker", ""))
        text = " ".join(str(it.get("text", "")).split())
        if speaker not in hosts or not re.search(r"\w\w", strip_markers(text)):
            continue
        cites = [c for c in (it.get("citations") or []) if isinstance(c, int) and not isinstance(c, bool)]
        lines.append((speaker, text, cites))
    if len(lines) < 2:
        raise ValueError("the segment has fewer than two lines")
    if len(hosts) > 1 and len({s for s, _, _ in lines}) < 2:
        raise ValueError("only one host speaks")
    if fmt == "debate" and any(a[0] == b[0] for a, b in zip(lines, lines[1:], strict=False)):
        raise ValueError("the debaters do not take turns (one speaks twice in a row)")
    if fmt in ("debate", "critique", "brief"):
        uncited = [t for _, t, c in lines if not c and not strip_markers(t).rstrip().endswith("?")]
        if len(uncited) * 2 > len(lines):
            raise ValueError(f"{len(uncited)} of {len(lines)} lines cite no passage")
    keys = [normalize_for_match(strip_markers(t)) for _, t, _ in lines]
    if len(set(keys)) < max(2, int(len(keys) * 0.7)):
        raise ValueError("the hosts repeat the same lines")
    if (why := degenerate_reason(" ".join(t for _, t, _ in lines))) is not None:
        raise ValueError(why)
    checked, _ = verify_sentences([(t, c) for _, t, c in lines], passages, similarity)
    if not any(s.supported and s.citations for s in checked):
        raise ValueError("no line is supported by the passages it cites")
    # uncited banter and questions claim nothing to check here; cited lines are kept flagged unless most are
    # unsupported
    claims = [s for s in checked if s.citations]
    if (why := mostly_unsupported(claims)) is not None:
        raise ValueError(why.replace("sentences", "lines"))
    return lines


def verify_script(script: PodcastScript, passages: Sequence[Passage],
                  similarity: Similarity | None = None) -> PodcastScript:
    """Check every line against the passages it cites (ids are the script's passage ids); sets
    supported/flag and the script's citations. Used after generation and after the user edits."""
    known = {p.pid for p in passages}
    sentences, citations = verify_sentences([(ln.text, ln.citations) for ln in script.lines], passages, similarity)
    for ln, s in zip(script.lines, sentences, strict=True):
        bad = [i for i in ln.citations if i not in known]
        ln.citations = list(s.citations)
        ln.supported, ln.flag = s.supported, s.flag
        if not s.citations and strip_markers(ln.text).rstrip().endswith("?"):
            ln.supported, ln.flag = True, ""  # a host's question claims nothing
        if bad:  # an edited line citing a passage the script was not made from
            ln.supported = False
            ln.flag = f"it cites {', '.join(f'[{i}]' for i in bad)}, which names no passage" + (
                f"; {ln.flag}" if ln.flag else "")
    script.citations = [c.to_json() for c in citations]
    return script


def check_hosts(hosts: Sequence[Host], fmt: PodcastFormat) -> list[str]:
    names = [h.name for h in hosts]
    if fmt.speakers == 1:
        if len(names) != 1 or not names[0].strip():
            raise NotebookError(f"A {fmt.label.lower()} has one speaker with a name.")
    elif len(names) != 2 or len(set(n.casefold() for n in names)) != 2 or not all(n.strip() for n in names):
        raise NotebookError("A podcast needs two hosts with different names.")
    return names


def _values(hosts: Sequence[Host], **kw: Any) -> dict[str, Any]:
    names = [h.name for h in hosts]
    return {"host_a": names[0], "host_b": names[1] if len(names) > 1 else "",
            "persona_a": hosts[0].persona, "persona_b": hosts[1].persona if len(hosts) > 1 else "", **kw}


def write_segment(
    engine: Engine,
    seg_passages: Sequence[Passage],
    si: int,
    topics: Sequence[str],
    *,
    title: str,
    dialogue_template: PromptTemplate,
    hosts: Sequence[Host],
    fmt: PodcastFormat,
    lines_per: int,
    audience: str,
    language: str,
    focus: str,
    retries: int,
    stats: RunStats,
    cancel: CancelToken | None = None,
    similarity: Similarity | None = None,
    reporter: StageReporter | None = None,
) -> list[PodcastLine]:
    """The lines of segment ``si`` (its topic ``topics[si]``) from ``seg_passages`` (the script's passage ids),
    checked; citations are the script's ids. Used for a whole episode and to write one segment again."""
    names = [h.name for h in hosts]
    # renumber locally: the grammar's id range is small and each id is one the model just saw
    local = [Passage(k + 1, p.chunk_id, p.source_id, p.source_title, p.text, p.start, p.end, p.page, p.page_end,
                     p.t_start, p.heading, p.url) for k, p in enumerate(seg_passages)]
    values = _values(hosts, passages=format_passages(local), topic=topics[si], title=title,
                     outline="; ".join(f"{i + 1}. {t}" for i, t in enumerate(topics)), lines=lines_per,
                     first=si == 0, last=si == len(topics) - 1, audience=audience, language=language, focus=focus)
    seg_lines, _ = generate_structured(
        engine, messages_for(dialogue_template, values), _dialogue_schema(names, len(local), lines_per),
        lambda d: _check_dialogue(d, names, local, similarity, fmt.name), what=f"dialogue for segment {si + 1}",
        max_tokens=40 + (lines_per + 2) * 70, retries=retries, stats=stats, temperature=0.6, cancel=cancel,
        reporter=reporter,
    )
    out = []
    for speaker, text, cites in seg_lines:
        glob = [seg_passages[c - 1].pid for c in cites if 1 <= c <= len(seg_passages)]
        clean = strip_markers(text)
        out.append(PodcastLine(speaker, clean + "".join(f" [{g}]" for g in dict.fromkeys(glob)),
                               list(dict.fromkeys(glob)), si))
    return out


def write_script(
    engine: Engine,
    passages: Sequence[Passage],
    *,
    outline_template: PromptTemplate,
    dialogue_template: PromptTemplate,
    hosts: Sequence[Host],
    audience: str,
    length: str,
    language: str,
    focus: str,
    retries: int,
    stats: RunStats,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
    similarity: Similarity | None = None,
    reporter: StageReporter | None = None,
    fmt: str | PodcastFormat = "deep-dive",
) -> tuple[PodcastScript, list[Passage], list[str]]:
    """Returns (script, the passages it was given (ids 1..n, the ones its citations use), notes).

    ``fmt`` is the format (deep dive, brief, critique, debate: see ``core.podcast_script.PODCAST_FORMATS``); the
    templates given are its templates. ``length`` (short / default / long) sets its segments x lines budget.
    An outline whose title is the prompt's example title (copied, not written) is rejected and retried."""
    cancel = cancel or CancelToken()
    reporter = reporter or StageReporter(progress)
    form = fmt if isinstance(fmt, PodcastFormat) else podcast_format(fmt)
    n_segments, lines_per = budget(form, length)
    check_hosts(hosts, form)
    outline_tokens = 60 + n_segments * 40
    base = _values(hosts, segments=n_segments, audience=audience, focus=focus, language=language)
    overhead = engine.count_chat_tokens(messages_for(outline_template, {**base, "passages": format_passages([])}))
    room = engine.n_ctx - outline_tokens - overhead - 48
    if room < 200:
        raise NotebookError(f"The model's context ({engine.n_ctx} tokens) is too small for a podcast outline.")
    given = select_passages(passages, engine.count_tokens, room)
    notes: list[str] = []
    if len(given) < len(passages):
        notes.append(f"The outline saw {len(given)} of {len(passages)} passages (spread over every source) to fit "
                     "the context.")
    reporter.unit(0, n_segments + 1, "Planning the episode")
    examples = example_titles(outline_template)
    (title, topics, refs, outline_notes), _ = generate_structured(
        engine, messages_for(outline_template, {**base, "passages": format_passages(given)}),
        _outline_schema(len(given), n_segments), lambda d: _check_outline(d, given, n_segments, examples),
        what="podcast outline", max_tokens=outline_tokens, retries=retries, stats=stats, temperature=0.5,
        cancel=cancel, reporter=reporter,
    )
    notes += outline_notes
    by_id = {p.pid: p for p in given}
    lines: list[PodcastLine] = []
    for si, (topic, ids) in enumerate(zip(topics, refs, strict=True)):
        cancel.raise_if_set()
        reporter.unit(si + 1, len(topics) + 1, "Writing segment", part=si + 1, parts=len(topics), detail=topic)
        lines += write_segment(engine, [by_id[i] for i in ids], si, topics, title=title,
                               dialogue_template=dialogue_template, hosts=hosts, fmt=form, lines_per=lines_per,
                               audience=audience, language=language, focus=focus, retries=retries, stats=stats,
                               cancel=cancel, similarity=similarity, reporter=reporter)
    script = PodcastScript(title or topics[0], list(hosts), topics, lines, language=language, format=form.name)
    verify_script(script, given, similarity)
    reporter.finish()
    return script, given, notes


def segment_passages(script: PodcastScript, segment: int, passages: Sequence[Passage]) -> list[Passage]:
    """The passages segment ``segment`` drew on: those its lines cite (else the ones closest to its topic)."""
    by_id = {p.pid: p for p in passages}
    ids = list(dict.fromkeys(i for ln in script.lines if ln.segment == segment for i in ln.citations if i in by_id))
    if not ids and 0 <= segment < len(script.segments):
        ids = _by_topic(script.segments[segment], passages)
    return [by_id[i] for i in ids[:4]]


DRAFT_HELP = ("Write or paste the script below: one line per turn as **Name:** what they say [n], where [n] is the "
              "passage the line draws on (see Sources at the end; that list is not part of the script). "
              "## headings start segments. When you save, every line is checked against the passages it cites; "
              "a line that cites none, or says what its passages do not, is flagged \u26a0. This paragraph is "
              "ignored.")


def draft_markdown(passages: Sequence[Passage], hosts: Sequence[str], title: str, *, lines: int = 8,
                   listed: int = 40) -> str:
    """A script to start from when no model wrote one (or its checks failed): the hosts take turns with a key
    sentence of passages spread over the sources, verbatim and cited (so every line is supported), under
    the same Markdown as :meth:`PodcastScript.export_markdown`; then the numbered passages to cite, under
    ``## Sources`` (which :func:`parse_markdown` skips)."""
    from notebooklm_local.core.textutil import split_sentences

    names = [h for h in hosts if h.strip()][:2] or ["Alex", "Sam"]
    if len(names) == 1:
        names.append("Sam" if names[0] != "Sam" else "Alex")
    usable = [p for p in passages if re.search(r"\w\w", p.text)]
    picks: list[Passage] = []
    if usable:
        step = max(1.0, len(usable) / lines)
        idx = dict.fromkeys(min(len(usable) - 1, int(k * step)) for k in range(min(lines, len(usable))))
        picks = [usable[i] for i in idx]
    out = [f"# {title or 'Podcast'}", "", DRAFT_HELP, "", "## 1. Introduction", ""]
    each = -(-lines // max(1, len(picks)))  # sentences per passage (few passages: several from each)
    k = 0
    for p in picks:
        sentences = [" ".join(p.text[a:b].split()) for a, b in split_sentences(p.text)]
        good = [s for s in sentences if len(s.split()) >= 5] or [s for s in sentences if s] or [" ".join(p.text.split())]
        for text in good[:each]:
            out += [f"**{names[k % 2]}:** {text[:300]} [{p.pid}]", ""]
            k += 1
    if not picks:
        out += [f"**{names[0]}:** Welcome to the show.", "", f"**{names[1]}:** Today we talk about our sources.", ""]
    picked = {p.pid for p in picks}
    shown = [p for p in passages if p.pid in picked] + [p for p in passages if p.pid not in picked]
    shown = sorted(shown[:listed], key=lambda p: p.pid)
    if shown:
        out += ["## Sources", ""]
        for p in shown:
            quote = " ".join(p.text.split())
            quote = quote if len(quote) <= 160 else quote[:159] + "\u2026"
            out.append(f"[{p.pid}] {p.source_title} \u2014 \u201c{quote}\u201d")
        if len(passages) > len(shown):
            out.append(f"(\u2026 {len(passages) - len(shown)} more passages, numbered in reading order)")
    return "\n".join(out).rstrip() + "\n"
