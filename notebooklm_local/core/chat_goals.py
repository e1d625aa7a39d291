"""Chat goals and response length, per notebook: what they are, how they are checked.

A notebook's chat has a *goal* — ``default`` (the cited research assistant), ``learning`` (a learning
guide: explains step by step and ends with a question for the user) or ``custom`` (the user's own
instructions, a "persona", up to :data:`MAX_PERSONA_CHARS` characters) — and a *response length*:
``shorter``, ``default`` or ``longer``.

The goals' wording lives in prompt templates (``chat_goal_learning``, ``chat_goal_custom``), editable
like every template; the response length is a variable of the answer templates. The citation rules
are not part of a goal: they stay in the answer template's system part, *after* the goal, and the
answer checker requires citations whatever the goal says. A persona is data: it is cleaned here
(control characters stripped, bounded), inserted by the template between ``<persona>`` tags that it
cannot close, and never evaluated as a template (``{{ 7*7 }}`` stays text).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from notebooklm_local.core.errors import NotebookError

if TYPE_CHECKING:
    from notebooklm_local.core.library import Library

__all__ = [
    "GOALS", "LENGTHS", "GOAL_LABELS", "LENGTH_LABELS", "GOAL_TEMPLATES", "MAX_PERSONA_CHARS", "ChatGoal",
    "ChatGoalError", "clean_persona", "validate_goal", "persona_problem", "length_tokens", "length_sentences",
    "length_quotes", "persona_for_prompt", "SETTINGS_KEY", "notebook_goal", "set_notebook_goal",
]

GOALS = ("default", "learning", "custom")
LENGTHS = ("shorter", "default", "longer")
GOAL_LABELS = {"default": "Default", "learning": "Learning guide", "custom": "Custom"}
LENGTH_LABELS = {"shorter": "Shorter", "default": "Default length", "longer": "Longer"}
GOAL_TEMPLATES = {"learning": "chat_goal_learning", "custom": "chat_goal_custom"}  # "default": no goal block
MAX_PERSONA_CHARS = 10_000

# sentences an answer may have, quotes a model-free answer gives, and the share of the answer budget
_SENTENCES = {"shorter": 3, "default": 6, "longer": 12}
_QUOTES = {"shorter": 2, "default": 3, "longer": 5}
_TOKEN_SCALE = {"shorter": 0.5, "default": 1.0, "longer": 2.0}
_MIN_TOKENS = 128

# C0/C1 control characters and other invisible format characters, except newline and tab
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_PERSONA_TAG = re.compile(r"<\s*(/?)\s*persona\s*>", re.IGNORECASE)


class ChatGoalError(NotebookError):
    """A chat goal, persona or response length that cannot be used (the message says what to do)."""


def clean_persona(text: str | None) -> str:
    """The persona as it is stored: line ends normalised, control and invisible characters removed,
    trailing spaces and surrounding blank lines dropped (the length limit applies after this)."""
    t = unicodedata.normalize("NFC", str(text or "")).replace("\r\n", "\n").replace("\r", "\n")
    t = _CONTROL.sub("", t)
    return "\n".join(line.rstrip() for line in t.split("\n")).strip()


def persona_problem(goal: str, persona: str) -> str:
    """What is wrong with ``persona`` for ``goal`` ("" when nothing is); ``persona`` already cleaned."""
    if goal != "custom":
        return ""
    if not persona:
        return "The custom goal has no instructions: write the instructions or pick another goal."
    if len(persona) > MAX_PERSONA_CHARS:
        return (f"The instructions are {len(persona):,} characters long; the limit is {MAX_PERSONA_CHARS:,}. "
                f"Shorten them by {len(persona) - MAX_PERSONA_CHARS:,} characters.")
    return ""


@dataclass(frozen=True)
class ChatGoal:
    """A notebook's chat goal. ``persona`` is kept (cleaned) even when another goal is picked, so that
    switching back to *custom* finds it again."""

    goal: str = "default"
    persona: str = ""
    length: str = "default"

    @property
    def label(self) -> str:
        """Short text for a header: "Learning guide", "Custom · longer"."""
        name = GOAL_LABELS.get(self.goal, self.goal)
        return name if self.length == "default" else f"{name} \u00b7 {self.length}"

    @property
    def template(self) -> str | None:
        """The goal's prompt template (None for the default goal)."""
        return GOAL_TEMPLATES.get(self.goal)

    @property
    def is_default(self) -> bool:
        return self.goal == "default" and self.length == "default"

    def to_json(self) -> dict[str, Any]:
        return {"goal": self.goal, "persona": self.persona, "length": self.length}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ChatGoal:
        """Tolerant read of stored settings: unknown values fall back to the defaults; a stored custom
        goal whose persona became unusable (edited by hand) reads as the default goal."""
        data = data if isinstance(data, Mapping) else {}
        goal = str(data.get("goal") or "default").strip().lower()
        length = str(data.get("length") or "default").strip().lower()
        persona = clean_persona(data.get("persona") if isinstance(data.get("persona"), str) else "")
        goal = goal if goal in GOALS else "default"
        length = length if length in LENGTHS else "default"
        if persona_problem(goal, persona):
            goal = "default"
        return cls(goal, persona[:MAX_PERSONA_CHARS], length)


def validate_goal(goal: str | None = None, persona: str | None = None, length: str | None = None,
                  *, current: ChatGoal | None = None) -> ChatGoal:
    """A checked ChatGoal from user input; None keeps ``current``'s value. Raises ChatGoalError."""
    cur = current or ChatGoal()
    g = (goal if goal is not None else cur.goal).strip().lower()
    if g == "learning-guide" or g == "learning_guide":
        g = "learning"
    if g not in GOALS:
        raise ChatGoalError(f"Unknown chat goal '{g}': use one of {', '.join(GOALS)}.")
    n = (length if length is not None else cur.length).strip().lower()
    if n not in LENGTHS:
        raise ChatGoalError(f"Unknown response length '{n}': use one of {', '.join(LENGTHS)}.")
    p = clean_persona(persona if persona is not None else cur.persona)
    problem = persona_problem(g, p)
    if problem:
        raise ChatGoalError(problem)
    if len(p) > MAX_PERSONA_CHARS:  # kept for a later switch back to custom: still bounded
        raise ChatGoalError(persona_problem("custom", p))
    return ChatGoal(g, p, n)


def persona_for_prompt(persona: str) -> str:
    """The persona as the prompt quotes it: cleaned, bounded, and unable to close its ``<persona>`` tags."""
    p = clean_persona(persona)[:MAX_PERSONA_CHARS]
    return _PERSONA_TAG.sub(lambda m: f"\u2039{m.group(1)}persona\u203a", p)


def length_sentences(length: str) -> int:
    """The most sentences an answer of this length may have (also the structured answer's grammar)."""
    return _SENTENCES.get(length, _SENTENCES["default"])


def length_quotes(length: str) -> int:
    """How many source sentences a model-free (quotes) answer gives."""
    return _QUOTES.get(length, _QUOTES["default"])


def length_tokens(length: str, base: int) -> int:
    """The generation budget (max_tokens) for this length, from the configured ``chat.answer_tokens``."""
    return max(min(_MIN_TOKENS, base), int(base * _TOKEN_SCALE.get(length, 1.0)))  # shorter never exceeds default


SETTINGS_KEY = "chat_goal"  # the key in a notebook's settings (core.library, migration 5)


def notebook_goal(library: Library, notebook: str) -> ChatGoal:
    """The chat goal of a notebook (name or id); the defaults when none was set."""
    return ChatGoal.from_json(library.notebook(notebook).settings.get(SETTINGS_KEY))


def set_notebook_goal(library: Library, notebook: str, goal: str | None = None, persona: str | None = None,
                      length: str | None = None) -> ChatGoal:
    """Check and store a notebook's chat goal (None keeps a value). Raises ChatGoalError, storing nothing,
    for an unknown goal or length, or a custom goal whose instructions are empty or too long."""
    nb = library.notebook(notebook)
    checked = validate_goal(goal, persona, length, current=ChatGoal.from_json(nb.settings.get(SETTINGS_KEY)))
    library.update_notebook_settings(nb.id, **{SETTINGS_KEY: checked.to_json()})
    return checked
