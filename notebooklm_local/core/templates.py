"""Prompt templates: TOML files with a system and a user part written in (sandboxed) Jinja2.

A template file::

    name = "chat_answer"
    description = "Answer a question from the retrieved passages, citing them"
    required = ["passages", "question"]       # variables the template must use

    [variables]                                # every variable it may use, with a description
    passages = "The retrieved passages, each inside <passage id=N> tags"
    question = "The user's question"

    [sample]                                   # sample values for the preview
    question = "What is quantization?"

    system = '''...'''
    user = '''...'''
    schema = '''{...}'''                       # optional JSON schema for structured output

Defaults ship in ``resources/templates``; the user's edited copies live in the data dir and win.
A user copy that no longer validates is skipped (with a notice) and the default is used, so an
edit can never break chat. Rendering uses Jinja2's sandbox with ``StrictUndefined``: values are
inserted as data (a source containing ``{{ ... }}`` is not evaluated), a missing value is an error.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
import jinja2.sandbox
import tomli_w

from notebooklm_local.core.errors import TemplateError

__all__ = ["PromptTemplate", "TemplateStore", "parse_template", "RenderedPrompt", "replace_parts"]

log = logging.getLogger(__name__)

_ENV = jinja2.sandbox.ImmutableSandboxedEnvironment(
    undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False, trim_blocks=True,
    lstrip_blocks=True,
)

# A template is the user's text: it must not be able to hang the app. range() is budgeted per render
# (a nested {% for %} over range(100000) twice would otherwise run 10^10 iterations), and the output
# is capped.
RANGE_BUDGET = 100_000
MAX_OUTPUT_CHARS = 2_000_000
_budget = contextvars.ContextVar("template_range_budget", default=RANGE_BUDGET)


def _budgeted_range(*args: int) -> range:
    r = range(*args)
    left = _budget.get() - len(r)
    if left < 0:
        raise TemplateError(f"the template loops too much (more than {RANGE_BUDGET:,} range() steps in one render)")
    _budget.set(left)
    return r


_ENV.globals["range"] = _budgeted_range


def _render_part(source: str, values: Mapping[str, Any]) -> str:
    _budget.set(RANGE_BUDGET)
    out: list[str] = []
    size = 0
    for piece in _ENV.from_string(source).generate(**values):
        size += len(piece)
        if size > MAX_OUTPUT_CHARS:
            raise TemplateError(f"the template's output is larger than {MAX_OUTPUT_CHARS:,} characters")
        out.append(piece)
    return "".join(out)


@dataclass
class RenderedPrompt:
    system: str
    user: str
    schema: dict[str, Any] | None = None


@dataclass
class PromptTemplate:
    name: str
    description: str
    system: str
    user: str
    variables: dict[str, str] = field(default_factory=dict)
    required: list[str] = field(default_factory=list)
    sample: dict[str, Any] = field(default_factory=dict)
    schema: dict[str, Any] | None = None
    origin: str = "default"  # "default", "user", "plugin:<id>"
    path: Path | None = None
    text: str = ""  # the file's text (for the editor)

    def render(self, values: Mapping[str, Any]) -> RenderedPrompt:
        missing = [v for v in self.required if v not in values]
        if missing:
            raise TemplateError(f"Template '{self.name}' needs values for: {', '.join(missing)}")
        try:
            system = _render_part(self.system, values).strip()
            user = _render_part(self.user, values).strip()
        except jinja2.UndefinedError as e:
            raise TemplateError(f"Template '{self.name}': {e.message}") from e
        except jinja2.TemplateError as e:
            raise TemplateError(f"Template '{self.name}' could not be rendered: {e}") from e
        except (ArithmeticError, LookupError, TypeError, ValueError, AttributeError) as e:
            # runtime errors raised by the template's own expressions ({{ 1/0 }}, a huge range())
            raise TemplateError(f"Template '{self.name}' could not be rendered: {e}") from e
        return RenderedPrompt(system, user, self.schema)

    def preview(self, values: Mapping[str, Any] | None = None) -> RenderedPrompt:
        """Render with the template's sample values (overridden by ``values``); unknown ones get a placeholder."""
        merged: dict[str, Any] = {v: f"<{v}>" for v in self.variables}
        merged.update(self.sample)
        merged.update(values or {})
        return self.render(merged)


def parse_template(text: str, *, origin: str = "default", path: Path | None = None,
                   expected_name: str | None = None, base: PromptTemplate | None = None) -> PromptTemplate:
    """Parse and validate a template file's text. Raises TemplateError with every problem found.

    ``base`` (the shipped default, for a user's edited copy): the app supplies exactly the default's
    variables, so those are the ones allowed, and the default's required ones stay required.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise TemplateError(f"Not valid TOML: {e}") from e
    problems: list[str] = []

    def get_str(key: str, required: bool = True) -> str:
        v = data.get(key, "")
        if not isinstance(v, str):
            problems.append(f"'{key}' must be text")
            return ""
        if required and not v.strip():
            problems.append(f"'{key}' is missing or empty")
        return v

    name = get_str("name")
    description = get_str("description", required=False)
    system = get_str("system", required=False)
    user = get_str("user")
    variables = data.get("variables", {})
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        problems.append("[variables] must map each variable name to a description")
        variables = {}
    required = data.get("required", [])
    if not isinstance(required, list) or not all(isinstance(v, str) for v in required):
        problems.append("'required' must be a list of variable names")
        required = []
    sample = data.get("sample", {})
    if not isinstance(sample, dict):
        problems.append("[sample] must be a table")
        sample = {}
    if base is not None:
        variables = {**base.variables, **{k: v for k, v in variables.items() if k in base.variables}}
        required = sorted(set(required) | set(base.required))
    if expected_name and name and name != expected_name:
        problems.append(f"'name' is '{name}' but this template is '{expected_name}'")
    used: set[str] = set()
    for part, src in (("system", system), ("user", user)):
        try:
            used |= jinja2.meta.find_undeclared_variables(_ENV.parse(src))
        except jinja2.TemplateSyntaxError as e:
            problems.append(f"{part}: syntax error on line {e.lineno}: {e.message}")
    unknown = sorted(used - set(variables))
    if unknown:
        problems.append(f"unknown variable(s): {', '.join(unknown)} (known: {', '.join(sorted(variables)) or 'none'})")
    missing = sorted(set(required) - used)
    if missing:
        problems.append(f"missing variable(s): {', '.join(missing)} must appear in the system or user part")
    schema = None
    raw_schema = data.get("schema")
    if raw_schema is not None:
        try:
            schema = json.loads(raw_schema) if isinstance(raw_schema, str) else raw_schema
            if not isinstance(schema, dict):
                raise ValueError("it is not a JSON object")
        except (ValueError, TypeError) as e:
            problems.append(f"'schema' is not a valid JSON schema: {e}")
    if problems:
        raise TemplateError("; ".join(problems))
    return PromptTemplate(name, description, system, user, dict(variables), list(required), dict(sample), schema,
                          origin, path, text)


_PART_KEYS = ("system", "user", "schema")


def _multiline(value: str) -> str:
    """A TOML multi-line string for ``value``: literal ('''...''', readable) when it can be, else basic."""
    literal_ok = "'''" not in value and not value.endswith("'") and not any(
        (ord(c) < 32 and c not in "\n\t") or ord(c) == 127 for c in value)
    if literal_ok:
        return f"'''\n{value}'''"  # the newline after the opening quotes is not part of the value
    return tomli_w.dumps({"v": value}, multiline_strings=True).removeprefix("v = ").rstrip("\n")


def _is_table(value: Any) -> bool:
    return isinstance(value, dict) or isinstance(value, list) and any(isinstance(i, dict) for i in value)


def replace_parts(text: str, *, system: str, user: str) -> str:
    """A template file's text with its ``system`` and ``user`` parts replaced, every other key kept.

    The editor edits the two parts; this writes the file again in the shipped layout (top-level keys,
    the parts as multi-line strings, then the tables). Comments are not kept. Raises TemplateError when
    ``text`` is not valid TOML.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise TemplateError(f"Not valid TOML: {e}") from e
    data["system"], data["user"] = system, user
    texts = {k: data[k] for k in _PART_KEYS if isinstance(data.get(k), str)}
    head = {k: v for k, v in data.items() if k not in texts and not _is_table(v)}
    rest = {k: v for k, v in data.items() if k not in texts and _is_table(v)}
    parts = [f"{k} = {_multiline(v)}\n" for k, v in texts.items()]
    out = tomli_w.dumps(head) + "\n" + "\n".join(parts)
    if rest:
        out += "\n" + tomli_w.dumps(rest, multiline_strings=True)
    try:
        if tomllib.loads(out) == data:
            return out
    except tomllib.TOMLDecodeError:
        pass
    return tomli_w.dumps(data, multiline_strings=True)  # an unusual file: plain, still lossless


class TemplateStore:
    """Default templates (read-only, from resources) with user overrides (in the data dir) on top."""

    def __init__(self, default_dir: Path, user_dir: Path) -> None:
        self.default_dir = default_dir
        self.user_dir = user_dir
        self.extra: dict[str, PromptTemplate] = {}  # registered by plugins
        self.notices: list[str] = []

    def names(self) -> list[str]:
        names = {p.stem for p in self.default_dir.glob("*.toml")} | set(self.extra)
        if self.user_dir.is_dir():
            names |= {p.stem for p in self.user_dir.glob("*.toml")}
        return sorted(names)

    def default(self, name: str) -> PromptTemplate:
        p = self.default_dir / f"{name}.toml"
        if p.is_file():
            return parse_template(p.read_text(encoding="utf-8"), origin="default", path=p, expected_name=name)
        if name in self.extra:
            return self.extra[name]
        raise TemplateError(f"No template named '{name}'. Known: {', '.join(self.names())}")

    def get(self, name: str) -> PromptTemplate:
        """The user's version when it exists and validates, else the default."""
        up = self.user_dir / f"{name}.toml"
        if up.is_file():
            try:
                tpl = parse_template(up.read_text(encoding="utf-8"), origin="user", path=up, expected_name=name,
                                     base=self._base(name))
                tpl.preview()
                return tpl
            except (TemplateError, OSError, UnicodeDecodeError) as e:
                note = f"Your edited template '{name}' is invalid and was not used ({e}); using the default."
                if note not in self.notices:
                    self.notices.append(note)
                log.warning("%s", note)
        return self.default(name)

    def is_overridden(self, name: str) -> bool:
        return (self.user_dir / f"{name}.toml").is_file()

    def _base(self, name: str) -> PromptTemplate | None:
        try:
            return self.default(name)
        except TemplateError:
            return None

    def validate(self, name: str, text: str) -> PromptTemplate:
        """Parse, check variables, and render once with sample values (a template that parses but
        cannot render, e.g. one the sandbox blocks, is refused here rather than breaking chat)."""
        tpl = parse_template(text, origin="user", expected_name=name, base=self._base(name))
        tpl.preview()
        return tpl

    def save(self, name: str, text: str) -> PromptTemplate:
        """Validate, then write the user's version atomically. Invalid text is not saved."""
        tpl = self.validate(name, text)
        self.default(name)  # only known templates can be overridden
        self.user_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}-", suffix=".toml", dir=self.user_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, self.user_dir / f"{name}.toml")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        tpl.path = self.user_dir / f"{name}.toml"
        return tpl

    def reset(self, name: str) -> PromptTemplate:
        """Drop the user's version; the default applies again."""
        default = self.default(name)
        (self.user_dir / f"{name}.toml").unlink(missing_ok=True)
        return default
