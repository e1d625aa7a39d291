"""Chain of density (Adams et al. 2023) in code: entities, entity density, and the checks each step must pass.

The paper measures entity density = entities / tokens with an NER tagger. Offline and model-free,
entities here are what such a tagger mostly finds in technical and news text: proper-noun phrases
(capitalised word runs not merely starting a sentence), acronyms, numbers,
and technical identifiers (``llama.cpp``, ``Q4_K_M``, ``all-MiniLM-L6-v2``), plus every "missing
entity" the model named and the checks accepted. Tokens are word tokens.

A step is checked, never trusted (``check_step``): the summary must exist, not be degenerate or a
repeat, and stay within the word budget (a longer one is cut at a sentence end); each missing
entity must be short, occur in the source (``find_in_source``, fuzzy in the service; the source's
own spelling replaces the model's), be new and be used; a later step must add at least one entity
and raise the density — or, when it has more entities than the step before, lower it by at most
:data:`DENSITY_TOLERANCE` (published chains do that: see below). The chain as a whole must end
denser than it started (:func:`chain_problem`). Failing a check raises :class:`StepRejected` with the
reason, so the service can retry and finally tell the user why.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from notebooklm_local.core.textutil import STOPWORDS, content_words, normalize_for_match, split_sentences

__all__ = [
    "extract_entities",
    "count_tokens",
    "entity_density",
    "CoDStep",
    "StepRejected",
    "check_step",
    "cod_step_schema",
    "trim_to_words",
    "contains_entity",
    "degenerate_reason",
    "DENSITY_TOLERANCE",
    "chain_problem",
]

# How much a step may lower the entity density when it holds more entities than the step before.
# Published chains do not rise at every step: in the CoD paper's own example (Adams et al. 2023, the
# Chinese Grand Prix chain), step 4 adds two entities (Vettel, Raikkonen) while growing from 53 to 61
# words, and its density falls 3.5% as counted here (0.170 -> 0.164). Counting entities without an NER
# model is also uncertain by about one entity in a 60-word summary (~8% relative). 10% covers both;
# a step that loses more, or loses density without gaining an entity, is still refused.
DENSITY_TOLERANCE = 0.10

_WORD = re.compile(r"\w+(?:[.'\u2019_-]\w+)*", re.UNICODE)
# "Proper" tokens: capitalised words, acronyms, identifiers with digits / inner capitals / dots / underscores
_CAP = r"[A-Z\u00C0-\u00DE][\w'\u2019.-]*\w|[A-Z\u00C0-\u00DE]"
# no "and": "Chroma and SQLite" is two entities (dense summaries list entities that way)
_CONNECT = r"(?:of|the|for|de|del|der|la|le|van|von|du|da|y)"
_PROPER_RUN = re.compile(rf"\b(?:{_CAP})(?:\s+(?:{_CONNECT}\s+)?(?:{_CAP}|\d[\w.]*\w|\d))*")
_TECH = re.compile(r"\b(?=[\w.-]*(?:\d|[a-z][A-Z]|\w[._]\w))[A-Za-z][\w]*(?:[._-]\w+)+\b|\b[A-Za-z]+\d[\w]*\b")
# a number with its unit glued on ("270M", "4.8GB") is one entity, never a bare "270" that the text lacks
_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?:\s*%|[A-Za-z]+)?(?!\w)")
_GENERIC_CAPS = frozenset(
    "this these that those the a an it its in on at for from with to of and or but as by if when while after "
    "before during then there here our we you they he she i however moreover also overall finally first second "
    "third today yesterday summary article text source document passage passages note notes".split()
)


def count_tokens(text: str) -> int:
    """Word tokens (the density denominator)."""
    return len(_WORD.findall(text))


def _norm(s: str) -> str:
    return re.sub(r"[^\w%]+", " ", normalize_for_match(s)).strip()


def contains_entity(text: str, entity: str) -> bool:
    """``entity`` occurs in ``text`` as whole words (case-, accent- and punctuation-insensitive)."""
    e = _norm(entity)
    if not e:
        return False
    return re.search(rf"(?<!\w){re.escape(e)}(?!\w)", _norm(text)) is not None


def _sentence_starts(text: str) -> set[int]:
    starts = {a for a, _ in split_sentences(text)}
    starts |= {m.end() for m in re.finditer(r"(?:^|\n)\s*(?:[-*\u2022]\s+|\d+[.)]\s+|#+\s+)?", text)}
    return starts


def extract_entities(text: str, reference: str | None = None) -> list[str]:
    """Entity surface forms in ``text``, first occurrence order, de-duplicated case-insensitively.

    A single capitalised word that starts a sentence counts only when ``text`` (or ``reference``,
    e.g. the source) also has it capitalised mid-sentence: "Quantization stores ..." is not an entity,
    "Gemma" is.
    """
    found: dict[str, str] = {}
    starts = _sentence_starts(text)
    ref = reference if reference is not None else text

    def add(surface: str) -> None:
        s = surface.strip(" .,;:'\u2019-")
        key = _norm(s)
        if not key or key in STOPWORDS or key in _GENERIC_CAPS:
            return
        found.setdefault(key, s)

    for m in _PROPER_RUN.finditer(text):
        # a possessive ends an entity: "Google DeepMind's Gemma 3" holds "Google DeepMind" and "Gemma 3"
        for k, run in enumerate(re.split(r"(?<=\w)['\u2019]s(?=\s|$)", m.group(0))):
            run = run.strip()
            parts = run.split()
            # drop leading generic capitals ("The", "In") of a run
            while parts and _norm(parts[0]) in (_GENERIC_CAPS | STOPWORDS):
                parts = parts[1:]
            if not parts:
                continue
            surface = " ".join(parts)
            if len(parts) == 1 and k == 0 and m.start() in starts and surface == run and not _is_acronym(surface):
                ref_starts = starts if ref is text else _sentence_starts(ref)
                if not any(x.start() not in ref_starts for x in re.finditer(rf"\b{re.escape(surface)}\b", ref)):
                    continue
            add(surface)
    for m in _TECH.finditer(text):
        add(m.group(0))
    for m in _NUMBER.finditer(text):
        add(m.group(0).rstrip(","))
    return list(found.values())


def _is_acronym(word: str) -> bool:
    letters = [c for c in word if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


def entity_density(text: str, extra_entities: Iterable[str] = (), reference: str | None = None
                   ) -> tuple[list[str], int, float]:
    """(entities present in ``text``, tokens, density). ``extra_entities``: accepted missing entities."""
    ents = {_norm(e): e for e in extract_entities(text, reference)}
    for e in extra_entities:
        if contains_entity(text, e):
            ents.setdefault(_norm(e), e)
    # an entity inside a longer one counts once ("Gemma" within "Gemma 3")
    keys = sorted(ents, key=len, reverse=True)
    kept: list[str] = []
    for k in keys:
        if not any(re.search(rf"(?<!\w){re.escape(k)}(?!\w)", longer) for longer in kept):
            kept.append(k)
    order = {_norm(e): i for i, e in enumerate(ents.values())}
    entities = [ents[k] for k in sorted(kept, key=lambda k: order.get(k, 0))]
    tokens = count_tokens(text)
    return entities, tokens, (len(entities) / tokens if tokens else 0.0)


def trim_to_words(text: str, budget: int) -> tuple[str, bool]:
    """``text`` cut to at most ``budget`` words, at a sentence end when one is near. (text, was_cut)."""
    if count_tokens(text) <= budget:
        return text.strip(), False
    out = ""
    for a, b in split_sentences(text):
        candidate = (out + " " + text[a:b]).strip()
        if count_tokens(candidate) > budget:
            break
        out = candidate
    if count_tokens(out) >= budget * 0.6:
        return out, True
    # no sentence end near the budget: cut at the word
    cut = [m for m in _WORD.finditer(text)][budget - 1].end()
    return text[:cut].rstrip(" ,;:") + "\u2026", True


@dataclass
class CoDStep:
    index: int  # 1-based
    summary: str
    missing_entities: list[str]  # accepted (in the source's spelling)
    rejected_entities: list[dict[str, str]] = field(default_factory=list)  # {"entity", "reason"}
    entities: list[str] = field(default_factory=list)  # all entities in the summary
    tokens: int = 0
    density: float = 0.0
    dropped: list[str] = field(default_factory=list)  # entities of the previous step no longer present
    notes: list[str] = field(default_factory=list)
    attempts: int = 1
    citations: dict[str, Any] = field(default_factory=dict)  # CitedAnswer.to_json() of the summary

    @property
    def words(self) -> int:
        return count_tokens(self.summary)

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index, "summary": self.summary, "missing_entities": self.missing_entities,
            "rejected_entities": self.rejected_entities, "entities": self.entities, "tokens": self.tokens,
            "words": self.words, "density": round(self.density, 4), "dropped": self.dropped, "notes": self.notes,
            "attempts": self.attempts, "citations": self.citations,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> CoDStep:
        return cls(int(d["index"]), str(d["summary"]), list(d.get("missing_entities", [])),
                   list(d.get("rejected_entities", [])), list(d.get("entities", [])), int(d.get("tokens", 0)),
                   float(d.get("density", 0.0)), list(d.get("dropped", [])), list(d.get("notes", [])),
                   int(d.get("attempts", 1)), dict(d.get("citations", {})))


class StepRejected(ValueError):
    """A step's output failed a check; the message says why (shown to the user after the last retry)."""


def cod_step_schema(budget_words: int) -> dict[str, Any]:
    """The JSON schema one step is generated under (a llama.cpp grammar)."""
    return {
        "type": "object",
        "properties": {
            "missing_entities": {"type": "array", "items": {"type": "string", "maxLength": 60}, "maxItems": 3},
            "denser_summary": {"type": "string", "maxLength": max(200, budget_words * 9)},
        },
        "required": ["missing_entities", "denser_summary"],
    }


def degenerate_reason(text: str) -> str | None:
    toks = [t.casefold() for t in _WORD.findall(text)]
    if len(toks) >= 12:
        grams = Counter(tuple(toks[i : i + 4]) for i in range(len(toks) - 3))
        gram, n = grams.most_common(1)[0]
        if n >= 3 and n * 4 > len(toks) * 0.3:
            return f"it repeats itself (\u201c{' '.join(gram)}\u201d {n} times)"
        if len(set(toks)) < len(toks) * 0.3:
            return "it repeats the same few words"
    return None


def check_step(
    data: Any,
    *,
    index: int,
    previous: CoDStep | None,
    budget_words: int,
    find_in_source: Callable[[str], str | None],
    reference: str | None = None,
    accepted_before: Sequence[str] = (),
) -> CoDStep:
    """Validate and measure one step's JSON. Raises :class:`StepRejected` (the reason is for the user)."""
    if not isinstance(data, dict):
        raise StepRejected("the output is not a JSON object")
    summary = data.get("denser_summary", data.get("Denser_Summary"))
    if not isinstance(summary, str) or not summary.strip():
        raise StepRejected("the summary is empty")
    summary = re.sub(r"\s+", " ", summary).strip()
    raw_entities = data.get("missing_entities", data.get("Missing_Entities", []))
    if isinstance(raw_entities, str):
        raw_entities = [e for e in re.split(r"[;\n]", raw_entities)]
    if not isinstance(raw_entities, list):
        raise StepRejected("'missing_entities' is not a list")
    notes: list[str] = []
    if (why := degenerate_reason(summary)) is not None:
        raise StepRejected(f"the summary is unusable: {why}")
    if reference is not None:
        cw = content_words(summary)
        ref_words = set(content_words(reference))
        grounded = sum(1 for w in cw if w in ref_words) / len(cw) if cw else 0.0
        if grounded < 0.5:
            raise StepRejected(f"the summary is not about the source (only {grounded:.0%} of its words occur there)")
    n_words = count_tokens(summary)
    if n_words < max(8, int(budget_words * 0.35)):
        raise StepRejected(f"the summary is too short ({n_words} words for a budget of {budget_words})")
    if n_words > budget_words * 1.1:
        summary, _ = trim_to_words(summary, budget_words)
        notes.append(f"cut from {n_words} to {count_tokens(summary)} words (the budget is {budget_words})")
    if previous is not None:
        a, b = _norm(previous.summary), _norm(summary)
        if a == b or difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() >= 0.97:
            raise StepRejected("the summary repeats the previous step")

    accepted: list[str] = []
    rejected: list[dict[str, str]] = []
    for raw in raw_entities:
        ent = str(raw).strip().strip("\"'\u201c\u201d.;,")
        if not ent:
            continue
        if count_tokens(ent) > 5:
            rejected.append({"entity": ent, "reason": "longer than 5 words"})
            continue
        found = find_in_source(ent)
        if found is None:
            rejected.append({"entity": ent, "reason": "does not occur in the source"})
            continue
        if previous is not None and contains_entity(previous.summary, found):
            rejected.append({"entity": found, "reason": "already in the previous summary"})
            continue
        if not (contains_entity(summary, found) or contains_entity(summary, ent)):
            rejected.append({"entity": found, "reason": "not used in the new summary"})
            continue
        if any(_norm(found) == _norm(x) for x in accepted):
            continue
        if found != ent:
            notes.append(f"\u201c{ent}\u201d matched the source's \u201c{found}\u201d")
        accepted.append(found)
        if len(accepted) == 3:
            break
    if previous is not None and not accepted:
        reasons = "; ".join(f"\u201c{r['entity']}\u201d {r['reason']}" for r in rejected[:3])
        raise StepRejected("it added no new entity from the source" + (f" ({reasons})" if reasons else ""))

    entities, tokens, density = entity_density(summary, [*accepted_before, *accepted], reference)
    step = CoDStep(index, summary, accepted, rejected, entities, tokens, density, notes=notes)
    if previous is not None:
        step.dropped = [e for e in previous.entities if not contains_entity(summary, e)]
        more_entities = len(entities) > len(previous.entities)
        if density <= previous.density and not (
                more_entities and density >= previous.density * (1 - DENSITY_TOLERANCE)):
            raise StepRejected(
                f"the entity density did not rise ({previous.density:.3f} \u2192 {density:.3f}: "
                f"{len(entities)} entities in {tokens} words"
                + (f"; a step with more entities may lower it by at most {DENSITY_TOLERANCE:.0%})"
                   if more_entities else ")")
            )
        if density <= previous.density:
            step.notes.append(f"density {previous.density:.3f} \u2192 {density:.3f} with {len(entities)} entities "
                              f"instead of {len(previous.entities)} (within the {DENSITY_TOLERANCE:.0%} allowance)")
        if step.dropped:
            step.notes.append("dropped from the previous step: " + ", ".join(step.dropped[:6]))
    return step


def chain_problem(steps: Sequence[CoDStep]) -> str | None:
    """Why a finished chain is not acceptable as a whole (None when it is): it must end denser than it started."""
    if len(steps) < 2:
        return None
    first, last = steps[0], steps[-1]
    if last.density <= first.density:
        return (f"the chain did not end denser than it started (step 1: {first.density:.3f}, step {last.index}: "
                f"{last.density:.3f})")
    return None
