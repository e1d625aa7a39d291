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
import functools
import json
import logging
import os
import re
import tempfile
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import jinja2
import jinja2.meta
import jinja2.nodes
import jinja2.runtime
import jinja2.sandbox
import jinja2.visitor
import tomli_w

from notebooklm_local.core.errors import TemplateError

__all__ = ["PromptTemplate", "TemplateStore", "parse_template", "RenderedPrompt", "replace_parts"]

log = logging.getLogger(__name__)

# A template is the user's text (or a plugin's): it must not be able to hang the app, eat its memory
# or crash it. Every render runs under a budget (steps, wall-clock time, sizes) that the sandbox
# enforces where a template can spend: each {% for %} step (whatever the iterable), each call, filter
# and arithmetic operator, each ``~`` concatenation. Sizes are checked *before* a string, list or
# integer is built (``'x' * 10**9``, ``s.replace('', s)``, ``'%99999999s' % x``, ``9 ** 9 ** 9``), and
# every exception a template can cause (recursion, memory, overflow) becomes a TemplateError.
RANGE_BUDGET = 100_000  # range() items per render
MAX_OUTPUT_CHARS = 2_000_000  # the rendered text, and any string or list built on the way
MAX_STEPS = 1_000_000  # loop iterations + calls + operators per render
MAX_ARG_INT = 100_000  # the largest number a call or filter may get (widths, counts, repeats)
MAX_INT_BITS = 4_096  # integers a template computes
RENDER_SECONDS = 2.0  # wall clock per render part


class _Budget:
    __slots__ = ("range_left", "steps_left", "deadline")

    def __init__(self, seconds: float) -> None:
        self.range_left = RANGE_BUDGET
        self.steps_left = MAX_STEPS
        self.deadline = time.monotonic() + seconds


_budget: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("template_budget", default=None)


def _spend(n: int = 1) -> None:
    b = _budget.get()
    if b is None:
        return
    b.steps_left -= n
    if b.steps_left < 0:
        raise TemplateError(f"the template does too much work (more than {MAX_STEPS:,} steps in one render)")
    if time.monotonic() > b.deadline:
        raise TemplateError(f"the template takes too long to render (over {RENDER_SECONDS:g} seconds)")


def _too_big(what: str) -> TemplateError:
    return TemplateError(f"the template builds {what} larger than its budget allows")


def _check_size(n: int, what: str = "a text or list") -> None:
    if n > MAX_OUTPUT_CHARS:
        raise _too_big(what)


def _budgeted_range(*args: int) -> range:
    r = range(*args)
    b = _budget.get()
    if b is not None:
        b.range_left -= len(r)
        if b.range_left < 0:
            raise TemplateError(
                f"the template loops too much (more than {RANGE_BUDGET:,} range() steps in one render)")
    return r


def _budget_iter(iterable: Any) -> Any:
    """Every {% for %} iterates through here: one step per item, whatever the iterable."""
    for item in iterable:
        _spend()
        yield item


def _budget_concat(parts: list[Any]) -> str:
    """``a ~ b ~ c``: the size is known before the string is built."""
    strs = [str(p) for p in parts]
    _spend(len(strs))
    _check_size(sum(len(x) for x in strs), "a text")
    return "".join(strs)


def _check_ints(args: Any) -> None:
    for a in args:
        if isinstance(a, int) and not isinstance(a, bool) and abs(a) > MAX_ARG_INT:
            raise TemplateError(f"the template passes {a if a.bit_length() < 64 else 'a huge number'} to a "
                                f"function or filter; the limit is {MAX_ARG_INT:,}")


def _field_estimate(fmt: str, args: Any) -> int:
    """An upper bound on a %-format or str.format result's length."""
    widths = sum(min(int(w), 10**12) for w in re.findall(r"\d+", fmt) if len(w) <= 13) + 10**13 * sum(
        1 for w in re.findall(r"\d+", fmt) if len(w) > 13)
    longest = max((len(str(a)) for a in args), default=0)
    fields = fmt.count("%") + fmt.count("{")
    return len(fmt) + widths + fields * longest


def _seq_len(x: Any) -> int | None:
    return len(x) if isinstance(x, (str, list, tuple)) else None


class _Budgeter(jinja2.visitor.NodeTransformer):
    """Rewrites a parsed template: loops iterate through the budget, ``~`` concatenates through it."""

    def __init__(self, env: jinja2.Environment) -> None:
        self.env = env

    def _call(self, attr: str, args: list[jinja2.nodes.Expr], lineno: int) -> jinja2.nodes.Call:
        call = jinja2.nodes.Call(jinja2.nodes.EnvironmentAttribute(attr), args, [], None, None)
        call.set_lineno(lineno)
        call.set_environment(self.env)
        return call

    def visit_For(self, node: jinja2.nodes.For) -> jinja2.nodes.Node:  # noqa: N802 - visitor protocol
        self.generic_visit(node)
        node.iter = self._call("budget_iter", [cast(jinja2.nodes.Expr, node.iter)], node.lineno)
        return node

    def visit_Concat(self, node: jinja2.nodes.Concat) -> jinja2.nodes.Node:  # noqa: N802 - visitor protocol
        self.generic_visit(node)
        items = jinja2.nodes.List(list(node.nodes))
        items.set_lineno(node.lineno)
        items.set_environment(self.env)
        return self._call("budget_concat", [items], node.lineno)


def _budgeted_filter(name: str, func: Any) -> Any:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _spend()
        values = [a for a in args if not isinstance(a, (jinja2.Environment, jinja2.runtime.Context, jinja2.nodes.EvalContext))]
        _check_ints(values[1:])
        _check_ints(kwargs.values())
        if name == "replace" and len(values) >= 3:
            s, old, new = (str(v) for v in values[:3])
            _check_size(len(s) + (s.count(old) if old else len(s) + 1) * len(new), "a text")
        elif name in ("join", "list", "sort", "unique", "reverse") and values and not isinstance(values[0], str):
            items = list(_budget_iter(values[0]))  # a generator is consumed under the budget
            _check_size(len(items), "a list")
            if name == "join":
                _check_size(sum(len(str(i)) for i in items) + len(items) * len(str(values[1]) if len(values) > 1
                                                                                else ""), "a text")
            args = (*args[: args.index(values[0])], items, *args[args.index(values[0]) + 1:])
        elif name == "format" and values:
            _check_size(_field_estimate(str(values[0]), [*values[1:], *kwargs.values()]), "a text")
        out = func(*args, **kwargs)
        n = _seq_len(out)
        if n is not None:
            _check_size(n)
        return out

    return wrapper


def _no_lipsum(*_a: Any, **_k: Any) -> str:
    raise TemplateError("lipsum() is not available in prompt templates")


class _BudgetedEnvironment(jinja2.sandbox.ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%", "//", "/", "-"})

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.budget_iter = _budget_iter
        self.budget_concat = _budget_concat
        self.filters = {k: _budgeted_filter(k, f) for k, f in self.filters.items()}
        self.globals["lipsum"] = _no_lipsum  # n paragraphs of filler: nothing a prompt needs, an easy bomb
        self.globals["range"] = _budgeted_range

    def _parse(self, source: str, name: str | None, filename: str | None) -> jinja2.nodes.Template:
        try:
            tree = super()._parse(source, name, filename)
            return _Budgeter(self).visit(tree)
        except (RecursionError, MemoryError) as e:
            raise TemplateError(f"the template is nested too deeply to read ({type(e).__name__})") from None

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _spend()
        ints = all(isinstance(x, int) for x in (left, right))
        if operator == "**":
            if ints and right > 0 and abs(left) > 1 and max(1, abs(left).bit_length() - 1) * right > MAX_INT_BITS:
                raise _too_big("a number")
            if isinstance(left, float) or isinstance(right, float):
                try:
                    return float(left) ** float(right)
                except OverflowError:
                    raise _too_big("a number") from None
        elif operator == "*":
            if ints and left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise _too_big("a number")
            for seq, n in ((left, right), (right, left)):
                if _seq_len(seq) is not None and isinstance(n, int):
                    _check_size(_seq_len(seq) * max(n, 0))  # type: ignore[operator]
        elif operator == "+":
            if ints and max(left.bit_length(), right.bit_length()) > MAX_INT_BITS:
                raise _too_big("a number")
            a, b = _seq_len(left), _seq_len(right)
            if a is not None and b is not None:
                _check_size(a + b)
        elif operator == "%" and isinstance(left, str):
            args = right if isinstance(right, tuple) else (right,)
            _check_size(_field_estimate(left, args), "a text")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - jinja's API
        _spend()
        if __obj is not _budgeted_range:
            _check_ints(args)
            _check_ints(kwargs.values())
        target = getattr(__obj, "__wrapped__", __obj)
        owner = getattr(target, "__self__", None)
        name = getattr(target, "__name__", "")
        if isinstance(owner, str):
            if name in ("format", "format_map"):
                vals = list(args[0].values()) if name == "format_map" and args and isinstance(args[0], Mapping) \
                    else [*args, *kwargs.values()]
                _check_size(_field_estimate(owner, vals), "a text")
            elif name == "replace" and len(args) >= 2:
                old, new = str(args[0]), str(args[1])
                _check_size(len(owner) + (owner.count(old) if old else len(owner) + 1) * len(new), "a text")
            elif name == "join" and args:
                items = list(_budget_iter(args[0]))
                _check_size(sum(len(str(i)) for i in items) + len(items) * len(owner), "a text")
                args = (items, *args[1:])
        out = super().call(__context, __obj, *args, **kwargs)
        n = _seq_len(out)
        if n is not None:
            _check_size(n)
        return out


_ENV = _BudgetedEnvironment(
    undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False, trim_blocks=True,
    lstrip_blocks=True,
)


def _render_part(source: str, values: Mapping[str, Any], seconds: float = RENDER_SECONDS) -> str:
    token = _budget.set(_Budget(seconds))
    try:
        out: list[str] = []
        size = 0
        for piece in _ENV.from_string(source).generate(**values):
            size += len(piece)
            if size > MAX_OUTPUT_CHARS:
                raise TemplateError(f"the template's output is larger than {MAX_OUTPUT_CHARS:,} characters")
            _spend()
            out.append(piece)
        return "".join(out)
    finally:
        _budget.reset(token)


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
    # A user's template that validated with its samples but fails on real values renders the default
    # instead, and says so through ``on_fallback`` (TemplateStore.get sets both).
    fallback: PromptTemplate | None = field(default=None, repr=False, compare=False)
    on_fallback: Callable[[str], None] | None = field(default=None, repr=False, compare=False)

    def render(self, values: Mapping[str, Any]) -> RenderedPrompt:
        if self.fallback is None:
            return self._render(values)
        try:
            return self._render(values)
        except TemplateError as e:
            note = f"Your edited template '{self.name}' failed ({e}); the default was used."
            log.warning("%s", note)
            if self.on_fallback is not None:
                self.on_fallback(note)
            return self.fallback.render(values)

    def _render(self, values: Mapping[str, Any]) -> RenderedPrompt:
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
        except TemplateError as e:
            raise TemplateError(f"Template '{self.name}' could not be rendered: {e}") from None
        except (RecursionError, MemoryError) as e:  # a macro calling itself, a bomb past the size checks
            raise TemplateError(f"Template '{self.name}' could not be rendered: it recurses or needs too much "
                                f"memory ({type(e).__name__})") from None
        except Exception as e:  # whatever the template's own expressions raise ({{ 1/0 }}, ...)
            raise TemplateError(f"Template '{self.name}' could not be rendered: {type(e).__name__}: {e}") from e
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
    unreadable = False  # a part that does not parse: its variables are unknown, so "missing" would mislead
    for part, src in (("system", system), ("user", user)):
        try:
            used |= jinja2.meta.find_undeclared_variables(_ENV.parse(src))
        except jinja2.TemplateSyntaxError as e:
            problems.append(f"{part}: syntax error on line {e.lineno}: {e.message}")
            unreadable = True
        except TemplateError as e:
            problems.append(f"{part}: {e}")
            unreadable = True
        except (RecursionError, MemoryError, jinja2.TemplateError) as e:
            problems.append(f"{part}: cannot be read ({type(e).__name__})")
            unreadable = True
    unknown = sorted(used - set(variables))
    if unknown:
        problems.append(f"unknown variable(s): {', '.join(unknown)} (known: {', '.join(sorted(variables)) or 'none'})")
    missing = sorted(set(required) - used)
    if missing and not unreadable:
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
        self._rejected: dict[str, tuple[int, int]] = {}  # user templates found invalid: (mtime, size)

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
                st = up.stat()
                stamp = (st.st_mtime_ns, st.st_size)
            except OSError:
                stamp = None
            if stamp is not None and self._rejected.get(name) == stamp:
                return self.default(name)  # known bad and unchanged: not validated (maybe seconds) again
            try:
                tpl = parse_template(up.read_text(encoding="utf-8"), origin="user", path=up, expected_name=name,
                                     base=self._base(name))
                tpl.preview()
                tpl.fallback = self.default(name)
                tpl.on_fallback = self._notice
                return tpl
            except (TemplateError, OSError, UnicodeDecodeError) as e:
                note = f"Your edited template '{name}' is invalid and was not used ({e}); using the default."
                if note not in self.notices:
                    self.notices.append(note)
                log.warning("%s", note)
                if stamp is not None:
                    self._rejected[name] = stamp
        return self.default(name)

    def _notice(self, note: str) -> None:
        if note not in self.notices:
            self.notices.append(note)

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
