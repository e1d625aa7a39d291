"""Chain of density that accepts good chains (issue 14): chains in the style of the CoD paper (Adams et al.
2023), whose density rises over the chain but not at every step, pass; degenerate chains are still refused.

``ARTICLE`` is a short news story written for this test; ``PAPER_STYLE`` a five-step chain a good model
would write for it: the first summary is verbose, each step names 1-3 missing entities, and step 4 — as in
the paper's own Grand Prix example — adds two entities while growing a few words, so its density dips.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from notebooklm_local.core.density import (
    DENSITY_TOLERANCE,
    CoDStep,
    StepRejected,
    chain_problem,
    check_step,
    entity_density,
)
from notebooklm_local.services.studio.cod import SourceMatcher

ARTICLE = """Storm closes Rotterdam port for two days

A storm named Ciara closed the Port of Rotterdam on Monday, the harbour authority said. About 120 ships waited \
at anchor in the North Sea while winds reached 110 kilometres per hour. Maersk and MSC diverted six container \
ships to Antwerp, and the Dutch railway operator ProRail halted freight trains to the Maasvlakte terminals.

The harbour master, Ingrid van Dijk, said the port would reopen on Wednesday morning if the wind dropped below \
60 kilometres per hour. Shell suspended loading at its Pernis refinery. The Royal Netherlands Meteorological \
Institute (KNMI) issued a code red warning for the provinces of Zeeland and South Holland.

Economists at ING estimated the closure would cost the Dutch economy about 45 million euros a day.
"""

WORDS = 60
PAPER_STYLE: list[dict[str, Any]] = [
    {"Missing_Entities": ["Port of Rotterdam"],
     "Denser_Summary": "This article discusses a storm that closed the Port of Rotterdam for two days. Many ships "
                       "waited at anchor while strong winds blew, and shipping companies diverted ships and the "
                       "railway halted freight trains. The article also reports what the harbour authority said "
                       "about reopening the port and what the closure would cost the economy each day."},
    {"Missing_Entities": ["Ciara", "North Sea"],
     "Denser_Summary": "A storm named Ciara closed the Port of Rotterdam, leaving many ships waiting at anchor in "
                       "the North Sea because of strong winds. The article describes how companies and officials "
                       "reacted to the closure, which disrupted shipping and freight, and it reports the expected "
                       "economic costs of keeping the harbour shut for days."},
    {"Missing_Entities": ["Maersk", "Antwerp", "ProRail"],
     "Denser_Summary": "Storm Ciara closed the Port of Rotterdam, leaving about 120 ships at anchor in the North "
                       "Sea. Maersk and MSC diverted container ships to Antwerp, and ProRail halted freight trains. "
                       "Officials expect a reopening once the wind drops; economists call the closure costly."},
    # two entities added while growing within the budget: density dips a little (as in the paper's step 4)
    {"Missing_Entities": ["Ingrid van Dijk", "Shell"],
     "Denser_Summary": "Storm Ciara closed the Port of Rotterdam, leaving about 120 ships at anchor in the North "
                       "Sea. Maersk and MSC diverted container ships to Antwerp, ProRail halted freight trains, and "
                       "Shell suspended loading. Harbour master Ingrid van Dijk expects the port to reopen once the "
                       "wind drops; economists call the closure very costly for the economy."},
    {"Missing_Entities": ["KNMI", "ING", "45 million euros"],
     "Denser_Summary": "Storm Ciara closed the Port of Rotterdam, stranding 120 ships in the North Sea; Maersk and "
                       "MSC diverted ships to Antwerp, ProRail halted freight trains and Shell suspended loading. "
                       "Harbour master Ingrid van Dijk expects a Wednesday reopening; KNMI issued a code red, and "
                       "ING estimates costs of 45 million euros a day."},
]


def run_chain(steps: list[dict[str, Any]], source: str = ARTICLE, words: int = WORDS,
              find: Any = None) -> list[CoDStep]:
    matcher = find or SourceMatcher(source).find
    done: list[CoDStep] = []
    accepted: list[str] = []
    for i, data in enumerate(steps, 1):
        step = check_step(data, index=i, previous=done[-1] if done else None, budget_words=words,
                          find_in_source=matcher, reference=source, accepted_before=tuple(accepted))
        accepted += step.missing_entities
        done.append(step)
    return done


def test_a_paper_style_chain_whose_density_dips_once_passes() -> None:
    steps = run_chain(PAPER_STYLE)
    d = [s.density for s in steps]
    assert d[3] < d[2], d  # the dip is real ...
    assert d[3] >= d[2] * (1 - DENSITY_TOLERANCE)  # ... and within the allowance
    assert len(steps[3].entities) > len(steps[2].entities)
    assert any("allowance" in n for n in steps[3].notes)  # and shown
    assert d[-1] > d[0] and chain_problem(steps) is None
    assert all(s.rejected_entities == [] for s in steps), [s.rejected_entities for s in steps]


CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "004_e6425c5e2a24885a.txt"


@pytest.mark.skipif(not CORPUS.is_file(), reason="the notes corpus sits beside development checkouts only")
def test_the_published_grand_prix_chain_passes() -> None:
    """The CoD paper's own example chain (copied into the notes corpus): its step 4 lowers density."""
    text = CORPUS.read_text(encoding="utf-8")
    part = text[text.index("CoD Outputs (Added Details from previous)"): text.index("Retrieval Augmented Thoughts")]
    summaries = [p.strip() for p in part.split("\n\n")[1:] if p.strip()]
    assert len(summaries) == 5
    source = " ".join(summaries)  # the article is not in the corpus: every entity the chain names is in it
    data: list[dict[str, Any]] = []
    before: set[str] = set()
    for s in summaries:
        ents = entity_density(s, reference=source)[0]
        new = [e for e in ents if e.casefold() not in before][:3]
        before |= {e.casefold() for e in ents}
        data.append({"missing_entities": new, "denser_summary": s})
    steps = run_chain(data, source, words=80)
    d = [s.density for s in steps]
    assert any(b < a for a, b in zip(d, d[1:], strict=False)), d  # not rising at every step
    assert d[-1] > d[0] and chain_problem(steps) is None


def _chain_until(i: int) -> list[CoDStep]:
    return run_chain(PAPER_STYLE[:i])


def test_a_step_without_a_new_entity_is_still_refused() -> None:
    prev = _chain_until(3)
    data = dict(PAPER_STYLE[3], Missing_Entities=["Maersk"])  # already there
    with pytest.raises(StepRejected, match="added no new entity"):
        check_step(data, index=4, previous=prev[-1], budget_words=WORDS, find_in_source=SourceMatcher(ARTICLE).find,
                   reference=ARTICLE)


def test_a_step_that_loses_much_density_is_refused_even_with_more_entities() -> None:
    prev = _chain_until(3)
    padded = (PAPER_STYLE[2]["Denser_Summary"].replace("halted freight trains.", "halted freight trains, and Shell "
              "suspended loading.") + " All of this was described as a very serious and unusual event by everyone.")
    with pytest.raises(StepRejected, match="did not rise"):
        check_step({"Missing_Entities": ["Shell"], "Denser_Summary": padded}, index=4, previous=prev[-1],
                   budget_words=WORDS, find_in_source=SourceMatcher(ARTICLE).find, reference=ARTICLE)


def test_a_step_with_lower_density_and_no_more_entities_is_refused() -> None:
    prev = _chain_until(3)
    # swaps Antwerp for Shell: one new entity, one dropped, a few words longer
    swapped = re.sub(r"to Antwerp, and ProRail", "away, Shell paused loading, and ProRail", PAPER_STYLE[2]["Denser_Summary"])
    swapped = swapped.replace("Maersk and MSC", "Maersk and the shipping line MSC")
    with pytest.raises(StepRejected, match="did not rise"):
        check_step({"Missing_Entities": ["Shell"], "Denser_Summary": swapped}, index=4, previous=prev[-1],
                   budget_words=WORDS, find_in_source=SourceMatcher(ARTICLE).find, reference=ARTICLE)


def test_a_chain_that_ends_less_dense_than_it_started_is_not_accepted() -> None:
    a = CoDStep(1, "x", [], entities=["A", "B", "C"], tokens=30, density=0.1)
    b = CoDStep(2, "y", ["D"], entities=["A", "B", "C", "D"], tokens=41, density=4 / 41)
    assert "did not end denser" in (chain_problem([a, b]) or "")
    assert chain_problem([a]) is None
