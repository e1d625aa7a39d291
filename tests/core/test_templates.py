"""Prompt templates: the shipped defaults, validation of user edits, overrides on disk, and the sandbox.
Pure logic: no model."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from notebooklm_local.core.errors import TemplateError
from notebooklm_local.core.templates import PromptTemplate, TemplateStore, parse_template

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DIR = REPO / "resources" / "templates"
DEFAULT_FILES = sorted(DEFAULT_DIR.glob("*.toml"))


def _tpl(user: str = "{{ question }}", *, name: str = "custom", system: str = "", required: str = '["question"]',
         variables: str = 'question = "The question"', extra: str = "") -> str:
    return (f'name = "{name}"\ndescription = "d"\nrequired = {required}\n'
            f"system = '''{system}'''\nuser = '''{user}'''\n{extra}\n[variables]\n{variables}\n")


@pytest.fixture
def store(tmp_path: Path) -> TemplateStore:
    return TemplateStore(DEFAULT_DIR, tmp_path / "user-templates")


def _override(store: TemplateStore, name: str, text: str) -> Path:
    store.user_dir.mkdir(parents=True, exist_ok=True)
    path = store.user_dir / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _default_text(name: str) -> str:
    return (DEFAULT_DIR / f"{name}.toml").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# the shipped defaults


def test_the_expected_defaults_ship() -> None:
    assert {p.stem for p in DEFAULT_FILES} >= {
        "chat_answer", "chat_answer_structured", "rewrite_query", "summary", "summary_reduce", "briefing",
        "study_guide", "faq", "cod_step", "podcast_outline", "podcast_dialogue",
    }


@pytest.mark.parametrize("path", DEFAULT_FILES, ids=[p.stem for p in DEFAULT_FILES])
def test_every_default_parses_and_previews(path: Path) -> None:
    tpl = parse_template(path.read_text(encoding="utf-8"), path=path, expected_name=path.stem)
    assert tpl.name == path.stem and tpl.origin == "default" and tpl.path == path
    assert tpl.description and tpl.user.strip()
    assert set(tpl.required) <= set(tpl.variables)
    assert set(tpl.sample) <= set(tpl.variables)
    assert set(tpl.required) <= set(tpl.sample)  # the preview shows real sample values, not placeholders
    preview = tpl.preview()
    assert preview.user and "{{" not in preview.user and "{%" not in preview.user
    assert "{{" not in preview.system and "{%" not in preview.system
    # every sample value of a variable the user part uses shows up in the rendered prompt
    for var in tpl.required:
        value = str(tpl.sample[var])
        if value and f"{{{{ {var} }}}}" in tpl.user:
            assert value in preview.user, var
    assert tpl.text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["chat_answer", "chat_answer_structured"])
def test_chat_defaults_render_passages_question_and_language(name: str, store: TemplateStore) -> None:
    tpl = store.get(name)
    block = '<passages>\n<passage id="1" source="S">Text.</passage>\n</passages>'
    r = tpl.render({"passages": block, "question": "Why?", "language": "French"})
    assert block in r.user and r.user.endswith("Question: Why?")
    assert "French" in r.system
    assert "<passages>" in r.system and "never follow" in r.system  # the injection warning is there
    r = tpl.render({"passages": block, "question": "Why?", "language": ""})
    assert "French" not in r.system and "{%" not in r.system
    assert r.schema is None


def test_rewrite_query_default_renders_history() -> None:
    tpl = parse_template(_default_text("rewrite_query"), expected_name="rewrite_query")
    r = tpl.render({"history": "User: What is X?\nAssistant: A thing.", "question": "How big is it?"})
    assert "User: What is X?" in r.user and "Follow-up question: How big is it?" in r.user


def test_preview_overrides_samples_and_fills_placeholders() -> None:
    tpl = parse_template(_tpl("{{ question }} / {{ extra }}", variables='question = "Q"\nextra = "E"',
                              extra='[sample]\nquestion = "sample q"'))
    assert tpl.preview().user == "sample q / <extra>"
    assert tpl.preview({"extra": "given"}).user == "sample q / given"


# ---------------------------------------------------------------------------------------------
# validation of a template's text


def test_syntax_error_names_the_part_and_line() -> None:
    text = _tpl("line one\nline two {{ question }}\nline three {% if question %} never closed")
    with pytest.raises(TemplateError, match=r"user: syntax error on line 3") as e:
        parse_template(text)
    assert "Unexpected end of template" in str(e.value) or "if" in str(e.value)
    with pytest.raises(TemplateError, match=r"system: syntax error on line 1"):
        parse_template(_tpl(system="{{ question }"))


def test_a_syntax_error_is_not_also_reported_as_a_missing_variable() -> None:
    from notebooklm_local.core.paths import resources_dir
    from notebooklm_local.core.templates import TemplateStore

    store = TemplateStore(resources_dir() / "templates", Path("/nonexistent-user-templates"))
    default = (resources_dir() / "templates" / "chat_answer.toml").read_text(encoding="utf-8")
    broken = default.replace("{{ question }}", "{{ question }", 1)
    assert broken != default
    with pytest.raises(TemplateError) as e:
        store.validate("chat_answer", broken)
    assert "syntax error" in str(e.value) and "missing variable" not in str(e.value)


def test_unknown_variable_is_named_with_the_known_ones() -> None:
    with pytest.raises(TemplateError, match=r"unknown variable\(s\): nope, other \(known: question\)"):
        parse_template(_tpl("{{ question }} {{ other }} {{ nope }}"))


def test_missing_required_variable() -> None:
    with pytest.raises(TemplateError, match=r"missing variable\(s\): question must appear"):
        parse_template(_tpl("no variables here"))
    # a required variable used in the system part only is fine
    tpl = parse_template(_tpl("plain", system="Q: {{ question }}"))
    assert tpl.render({"question": "x"}).system == "Q: x"


@pytest.mark.parametrize("text", ['name = "x"\nuser = "unclosed', "name = ", "[variables\n", "= 1", 'a = 1\na = 2'])
def test_bad_toml(text: str) -> None:
    with pytest.raises(TemplateError, match="Not valid TOML"):
        parse_template(text)


def test_schema_must_be_a_json_object() -> None:
    with pytest.raises(TemplateError, match="'schema' is not a valid JSON schema"):
        parse_template(_tpl(extra="schema = '''{\"type\": \"object\",}'''"))
    with pytest.raises(TemplateError, match="it is not a JSON object"):
        parse_template(_tpl(extra="schema = '''[1, 2]'''"))
    tpl = parse_template(_tpl(extra="schema = '''{\"type\": \"object\"}'''"))
    assert tpl.schema == {"type": "object"}
    assert tpl.render({"question": "q"}).schema == {"type": "object"}


def test_name_must_match_the_file() -> None:
    with pytest.raises(TemplateError, match="'name' is 'other' but this template is 'custom'"):
        parse_template(_tpl(name="other"), expected_name="custom")
    assert parse_template(_tpl(name="other")).name == "other"  # no expectation, no check


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "x"\nuser = 3\n', "'user' must be text"),
        ('name = "x"\nuser = ""\n', "'user' is missing or empty"),
        ('user = "hi"\n', "'name' is missing or empty"),
        ('name = "x"\nuser = "hi"\nvariables = ["a"]\n', "[variables] must map"),
        ('name = "x"\nuser = "hi"\n[variables]\na = 1\n', "[variables] must map"),
        ('name = "x"\nuser = "hi"\nrequired = "a"\n', "'required' must be a list"),
        ('name = "x"\nuser = "hi"\nsample = 3\n', "[sample] must be a table"),
    ],
)
def test_wrong_types_are_reported(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as e:
        parse_template(text)
    assert message in str(e.value)


def test_every_problem_is_reported_at_once() -> None:
    text = _tpl("{{ nope }}", name="other", extra="schema = '''not json'''")
    with pytest.raises(TemplateError) as e:
        parse_template(text, expected_name="custom")
    msg = str(e.value)
    for part in ("'name' is 'other'", "unknown variable(s): nope", "missing variable(s): question", "'schema'"):
        assert part in msg


# ---------------------------------------------------------------------------------------------
# rendering: strict, values as data, sandboxed


def test_rendering_without_a_required_value_fails() -> None:
    tpl = parse_template(_default_text("chat_answer"))
    with pytest.raises(TemplateError, match="needs values for: passages"):
        tpl.render({"question": "q", "language": ""})


def test_strict_undefined_for_an_optional_variable() -> None:
    tpl = parse_template(_tpl("{{ question }} {{ extra }}", variables='question = "Q"\nextra = "E"'))
    with pytest.raises(TemplateError, match="extra"):
        tpl.render({"question": "q"})
    # the default chat template uses "language" in an {% if %}: it must be given (possibly empty)
    chat = parse_template(_default_text("chat_answer"))
    with pytest.raises(TemplateError, match="language"):
        chat.render({"passages": "p", "question": "q"})


@pytest.mark.parametrize("value", ["{{ 7*7 }}", "{% for x in range(3) %}{{ x }}{% endfor %}", "{# c #}",
                                   "{{ ''.__class__.__mro__ }}", "{% raw %}"])
def test_values_are_data_not_template_code(value: str) -> None:
    tpl = parse_template(_default_text("chat_answer"))
    r = tpl.render({"passages": f"<passages>{value}</passages>", "question": value, "language": ""})
    assert r.user.count(value) == 2  # inserted literally, twice
    assert "49" not in r.user and "012" not in r.user


@pytest.mark.parametrize(
    "expr",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ question.__class__.__base__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ lipsum.__globals__['os'] }}",
        "{{ '{0.__class__.__mro__}'.format(question) }}",
        "{{ range(10**9) | list }}",
        "{{ 1 / 0 }}",
        "{{ question[5] }}",
    ],
)
def test_sandbox_escapes_fail_with_template_error(expr: str) -> None:
    tpl = parse_template(_tpl(f"{{{{ question }}}} {expr}"))
    with pytest.raises(TemplateError):
        tpl.render({"question": "q"})


def test_loops_and_filters_still_work_in_the_sandbox() -> None:
    tpl = parse_template(_tpl("{% for w in question.split() %}[{{ w | upper }}]{% endfor %}"))
    assert tpl.render({"question": "a b"}).user == "[A][B]"


# ---------------------------------------------------------------------------------------------
# TemplateStore: defaults, overrides, save, reset


def test_store_without_overrides_gives_defaults(store: TemplateStore) -> None:
    assert not store.user_dir.exists()
    assert store.names() == sorted(p.stem for p in DEFAULT_FILES)
    tpl = store.get("chat_answer")
    assert tpl.origin == "default" and not store.is_overridden("chat_answer")
    assert store.notices == []
    with pytest.raises(TemplateError, match="No template named 'nope'. Known: .*chat_answer"):
        store.get("nope")


def test_save_valid_override_wins(store: TemplateStore) -> None:
    text = _default_text("chat_answer").replace("careful research assistant", "meticulous librarian")
    saved = store.save("chat_answer", text)
    path = store.user_dir / "chat_answer.toml"
    assert saved.path == path and saved.origin == "user"
    assert path.read_text(encoding="utf-8") == text
    assert store.is_overridden("chat_answer")
    tpl = store.get("chat_answer")
    assert tpl.origin == "user" and tpl.text == text
    assert "meticulous librarian" in tpl.preview().system
    assert store.default("chat_answer").origin == "default"  # the default is still there
    assert [p.name for p in store.user_dir.iterdir()] == ["chat_answer.toml"]  # no temp file left


@pytest.mark.parametrize(
    "text",
    [
        'name = "chat_answer"\nuser = "{{ question }"\n',  # syntax error
        "not = [valid toml",
        _tpl(name="rewrite_query"),  # name mismatch
        _default_text("chat_answer").replace("{{ question }}", "{{ questoin }}"),  # unknown + missing
    ],
)
def test_save_refuses_invalid_text_and_leaves_no_file(store: TemplateStore, text: str) -> None:
    with pytest.raises(TemplateError):
        store.save("chat_answer", text)
    assert not (store.user_dir / "chat_answer.toml").exists()
    assert not store.user_dir.exists() or list(store.user_dir.iterdir()) == []
    assert store.get("chat_answer").origin == "default"


def test_save_refuses_invalid_text_and_keeps_the_previous_override(store: TemplateStore) -> None:
    good = _default_text("rewrite_query").replace("Rewrite the user's", "Please rewrite the user's")
    store.save("rewrite_query", good)
    with pytest.raises(TemplateError):
        store.save("rewrite_query", good.replace("{{ history }}", "{{ history }"))
    assert (store.user_dir / "rewrite_query.toml").read_text(encoding="utf-8") == good
    assert [p.name for p in store.user_dir.iterdir()] == ["rewrite_query.toml"]


def test_save_refuses_an_unknown_template(store: TemplateStore) -> None:
    with pytest.raises(TemplateError, match="No template named 'custom'"):
        store.save("custom", _tpl())
    assert not (store.user_dir / "custom.toml").exists()


@pytest.mark.parametrize(
    "text",
    [
        'name = "chat_answer"\nuser = "{{ question }"\n',  # syntax error
        "garbage [[[",  # bad TOML
        _tpl(name="rewrite_query"),  # name mismatch
        'schema = "{bad"\n' + _default_text("chat_answer"),  # schema not JSON
        _default_text("chat_answer").replace("Question: {{ question }}", "Question:"),  # required variable unused
        _default_text("chat_answer").replace("{{ language }}", "{{ langauge }}"),  # unknown variable
    ],
    ids=["syntax", "toml", "name", "schema", "missing", "unknown"],
)
def test_an_invalid_override_on_disk_is_skipped_with_a_notice(store: TemplateStore, text: str,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    _override(store, "chat_answer", text)
    with caplog.at_level(logging.WARNING, logger="notebooklm_local.core.templates"):
        tpl = store.get("chat_answer")
        store.get("chat_answer")
    assert tpl.origin == "default"
    assert tpl.text == _default_text("chat_answer")
    assert len(store.notices) == 1  # once, however often it is asked for
    assert "Your edited template 'chat_answer' is invalid and was not used" in store.notices[0]
    assert "using the default" in store.notices[0]
    assert any("chat_answer" in r.getMessage() for r in caplog.records)
    assert store.is_overridden("chat_answer")  # the user's file is left alone for them to fix


def test_an_override_that_is_not_utf8_is_skipped(store: TemplateStore) -> None:
    store.user_dir.mkdir(parents=True)
    (store.user_dir / "chat_answer.toml").write_bytes(b"name = \"chat_answer\"\nuser = \"\xff\xfe\"\n")
    assert store.get("chat_answer").origin == "default"
    assert len(store.notices) == 1


def test_a_valid_override_placed_on_disk_directly_wins(store: TemplateStore) -> None:
    text = _default_text("rewrite_query").replace("Standalone query:", "Query:")
    _override(store, "rewrite_query", text)
    tpl = store.get("rewrite_query")
    assert tpl.origin == "user" and tpl.path == store.user_dir / "rewrite_query.toml"
    assert tpl.preview().user.endswith("Query:") and "Standalone" not in tpl.preview().user
    assert store.notices == []


def test_reset_removes_the_override(store: TemplateStore) -> None:
    store.save("chat_answer", _default_text("chat_answer").replace("careful", "thorough"))
    assert store.get("chat_answer").origin == "user"
    default = store.reset("chat_answer")
    assert default.origin == "default"
    assert not store.is_overridden("chat_answer")
    assert store.get("chat_answer").origin == "default"
    assert store.reset("chat_answer").origin == "default"  # nothing to remove: still fine
    with pytest.raises(TemplateError):
        store.reset("nope")


def test_user_only_files_and_plugin_templates_are_listed(store: TemplateStore) -> None:
    _override(store, "stray", _tpl(name="stray"))
    plugin = parse_template(_tpl(name="plugin_summary"), origin="plugin:demo")
    store.extra["plugin_summary"] = plugin
    names = store.names()
    assert {"stray", "plugin_summary", "chat_answer"} <= set(names) and names == sorted(names)
    assert store.get("plugin_summary") is plugin
    saved = store.save("plugin_summary", _tpl(name="plugin_summary", user="Q: {{ question }}"))
    assert saved.origin == "user"
    assert store.get("plugin_summary").render({"question": "x"}).user == "Q: x"
    assert store.reset("plugin_summary") is plugin


def test_validate_does_not_write(store: TemplateStore) -> None:
    tpl = store.validate("chat_answer", _default_text("chat_answer"))
    assert isinstance(tpl, PromptTemplate) and tpl.origin == "user"
    assert not store.user_dir.exists()


@pytest.mark.parametrize("body", [
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% for i in range(3000) %}{% for j in range(3000) %}x{% endfor %}{% endfor %}",
    "{{ 'x' * 10 }}{% for i in range(90000) %}{{ passages }}{{ passages }}{% endfor %}",
])
def test_a_template_that_would_hang_or_explode_is_refused_quickly(body: str, store: TemplateStore) -> None:
    import time

    text = (DEFAULT_DIR / "chat_answer.toml").read_text(encoding="utf-8")
    hostile = text.replace("Question: {{ question }}", "Question: {{ question }}" + body)
    t0 = time.perf_counter()
    with pytest.raises(TemplateError, match="loops too much|larger than"):
        store.validate("chat_answer", hostile)
    assert time.perf_counter() - t0 < 5
