"""Template bombs: every payload fails fast with a TemplateError (no hang, no traceback, no gigabytes),
at parse time too; a bad user template falls back to the default with a notice."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from notebooklm_local.core.errors import TemplateError
from notebooklm_local.core.templates import PromptTemplate, TemplateStore, parse_template
from tests.reliability.helpers import bounded

DEFAULTS = Path(__file__).resolve().parents[2] / "resources" / "templates"

BOMBS = {
    "nested loops over a string": "{% for a in q %}{% for b in q %}{% for c in q %}{% endfor %}{% endfor %}{% endfor %}",
    "nested loops over range": "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
    "loops over a dict's items": "{% for a in q|list %}{% for b in (q|list) %}{% for k, v in {'a': 1}.items() %}"
                                 "{% endfor %}{% endfor %}{% endfor %}",
    "doubling concatenation": "{% set ns = namespace(s='xx') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}"
                              "{% endfor %}{{ ns.s|length }}",
    "string repeat": "{{ 'x' * 10**10 }}",
    "list repeat": "{{ (q|list) * 100000000 }}",
    "power": "{{ 10 ** 100000 }}",
    "squaring loop": "{% set ns = namespace(v=3) %}{% for i in range(64) %}{% set ns.v = ns.v * ns.v %}{% endfor %}"
                     "{{ ns.v }}",
    "replace blow-up": "{{ q.replace('', q) }}",
    "replace filter blow-up": "{{ q|replace('x', q) }}",
    "percent width": "{{ '%999999999s' % q }}",
    "format width": "{{ '{:>999999999}'.format(q) }}",
    "format repeats": "{{ ('{0}' * 50000).format(q) }}",
    "center filter": "{{ q|center(1000000000) }}",
    "join blow-up": "{{ range(100000)|map('string')|join(q) }}",
    "lipsum": "{{ lipsum(1000000) }}",
    "recursive macro": "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    "slow filter in a loop": "{% for i in range(100000) %}{{ q|wordcount }}{% endfor %}",
}


def _tpl(user: str) -> str:
    return f'name = "t"\nrequired = ["q"]\nuser = """{{{{ q }}}} {user}"""\n[variables]\nq = "question"\n'


@pytest.mark.parametrize("payload", list(BOMBS.values()), ids=list(BOMBS))
def test_bombs_fail_fast_with_a_template_error(payload: str) -> None:
    tpl: PromptTemplate = parse_template(_tpl(payload))
    q = "x" * 10_000 if "wordcount" not in payload else "word " * 200_000
    with pytest.raises(TemplateError):
        _, elapsed = bounded(lambda: tpl.render({"q": q}), 10)


def test_deep_nesting_is_a_template_error_at_parse_time() -> None:
    payload = "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}"
    with pytest.raises(TemplateError):
        bounded(lambda: parse_template(_tpl(payload)), 10)


def test_deep_nesting_of_lists_and_blocks_too() -> None:
    for payload in ("{{ " + "[" * 3000 + "]" * 3000 + " }}", "{% if 1 %}" * 2000 + "{% endif %}" * 2000):
        with pytest.raises(TemplateError):
            bounded(lambda p=payload: parse_template(_tpl(p)), 10)


def test_reasonable_templates_still_render() -> None:
    tpl = parse_template(_tpl("{% for w in q.split() %}[{{ w|upper }}]{% endfor %} {{ '%5s|' % 'a' }}"
                              "{{ '{:>4}'.format('b') }} {{ 2 ** 10 }} {{ ('ab' * 3) ~ '!' }} {{ q|replace('a', 'b') }}"
                              " {{ range(3)|join(',') }}"))
    r = tpl.render({"q": "a b"})
    assert r.user == "a b [A][B]     a|   b 1024 ababab! b b 0,1,2"


def test_a_bomb_in_the_users_template_falls_back_to_the_default(tmp_path: Path) -> None:
    default = (DEFAULTS / "chat_answer.toml").read_text(encoding="utf-8")
    bomb = default.replace("{{ question }}", "{{ question }}{% for a in passages %}{% for b in passages %}"
                           "{% for c in passages %}{% endfor %}{% endfor %}{% endfor %}", 1)
    assert bomb != default
    user = tmp_path / "user"
    user.mkdir()
    (user / "chat_answer.toml").write_text(bomb, encoding="utf-8")
    store = TemplateStore(DEFAULTS, user)
    t0 = time.monotonic()
    tpl, _ = bounded(lambda: store.get("chat_answer"), 15)
    assert tpl.origin == "default"
    assert store.notices and "invalid and was not used" in store.notices[0]
    t1 = time.monotonic()
    assert store.get("chat_answer").origin == "default"  # known bad, unchanged: not validated again
    assert time.monotonic() - t1 < 0.5 and t1 - t0 < 15


def test_a_user_template_failing_on_real_values_falls_back_at_render(tmp_path: Path) -> None:
    default = (DEFAULTS / "chat_answer.toml").read_text(encoding="utf-8")
    # fine with the short sample passages, a bomb with real ones (a loop over every character, squared)
    bomb = default.replace("{{ question }}", "{{ question }}{% for a in passages %}{% for b in passages %}"
                           "{% endfor %}{% endfor %}", 1)
    user = tmp_path / "user"
    user.mkdir()
    (user / "chat_answer.toml").write_text(bomb, encoding="utf-8")
    store = TemplateStore(DEFAULTS, user)
    tpl = store.get("chat_answer")
    assert tpl.origin == "user" and not store.notices
    values = {"passages": "<passage id=1>" + "glacier " * 5000 + "</passage>", "question": "Why?", "language": ""}
    r, elapsed = bounded(lambda: tpl.render(values), 15)
    assert "glacier" in r.user and elapsed < 10
    assert store.notices and "the default was used" in store.notices[0]
