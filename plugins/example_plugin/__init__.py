"""The example plugin: copy this folder to start your own (see docs/plugins.md).

It shows the three things most plugins do:

1. a **source loader** for a made-up ``.note`` format: a first line ``Title: ...``, then paragraphs;
   lines starting with ``## `` are section headings;
2. a **prompt template** (validated like a template the user edits);
3. an **action**: a menu item whose callable runs on a worker thread.

Import nothing from notebooklm_local but ``notebooklm_local.extensions.api``: it is the stable surface.
"""

from __future__ import annotations

from notebooklm_local.extensions.api import (
    ActionContext,
    Block,
    CancelToken,
    LoadedDocument,
    PluginApi,
    SourceLoadError,
    SourceRef,
    read_file_bytes,
)

MAX_BYTES = 10_000_000

GLOSSARY_TEMPLATE = '''
name = "example_glossary"
description = "List the key terms of the passages with a one-line definition each (example plugin)"
required = ["passages"]
system = """You write short glossaries. Use only the given text."""
user = """List the key terms of these passages, one per line, as "term: definition".

{{ passages }}"""

[variables]
passages = "The passages to take the terms from"

[sample]
passages = "Photosynthesis turns light into chemical energy. Chlorophyll absorbs the light."
'''


class NoteFileLoader:
    """Loads ``.note`` files (the made-up format described above)."""

    name = "example-note"
    extensions = (".note",)

    def can_load(self, ref: SourceRef) -> bool:
        return ref.path is not None and ref.path.suffix.lower() in self.extensions

    def load(self, ref: SourceRef, cancel: CancelToken) -> LoadedDocument:
        assert ref.path is not None
        data = read_file_bytes(ref.path, MAX_BYTES)  # clear errors for missing, unreadable, huge files
        cancel.raise_if_set()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise SourceLoadError(f"{ref.path.name} is not UTF-8 text ({e.reason}).") from None
        lines = text.splitlines()
        title = ref.path.stem
        if lines and lines[0].lower().startswith("title:"):
            title = lines.pop(0)[len("title:"):].strip() or title
        blocks: list[Block] = []
        section: tuple[str, ...] = ()
        para: list[str] = []

        def flush() -> None:
            if para:
                blocks.append(Block(" ".join(para), "paragraph", heading_path=section))
                para.clear()

        for line in lines:
            if line.startswith("## "):
                flush()
                section = (line[3:].strip(),)
                blocks.append(Block(section[0], "heading", heading_path=section))
            elif line.strip():
                para.append(line.strip())
            else:
                flush()
        flush()
        if not blocks:
            raise SourceLoadError(f"{ref.path.name} contains no text.")
        # kind names the format; original keeps the file's bytes as the source's original
        return LoadedDocument.from_blocks("note", title, blocks, original=data, original_suffix=".note")


def count_words(context: ActionContext) -> str:
    """An action: the returned text is shown to the user."""
    return f"Notebook '{context.notebook_name}' has {len(context.source_ids)} selected sources."


def register(api: PluginApi) -> None:
    """Called once when the plugin is enabled. Everything registered here is removed on disable."""
    api.register_source_loader(NoteFileLoader())
    api.register_prompt_template(GLOSSARY_TEMPLATE)
    api.register_action("count-selected", "Count selected sources", count_words,
                        description="Says how many sources are selected (example plugin).")
    api.log.debug("example plugin registered; its data folder is %s", api.data_dir)


def unregister() -> None:
    """Optional: called when the plugin is disabled (release files, threads, ...)."""
