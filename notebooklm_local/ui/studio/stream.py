"""Readable text from a streamed structured output, as it arrives."""

from __future__ import annotations

from notebooklm_local.core.citations import repair_json, strip_markers

__all__ = ["JsonStream"]


class JsonStream:
    """Readable text from a streamed structured output (``{"sentences": [{"text": ...}]}``) as it arrives.

    A new top-level ``{`` after a complete object is a retry: the text starts again.
    """

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.depth = 0
        self.in_str = self.esc = False
        self.attempts = 0

    def feed(self, text: str) -> None:
        for ch in text:
            if self.in_str:
                if self.esc:
                    self.esc = False
                elif ch == "\\":
                    self.esc = True
                elif ch == '"':
                    self.in_str = False
            elif ch == '"':
                self.in_str = True
            elif ch == "{":
                if self.depth == 0:
                    self.parts = []
                    self.attempts += 1
                self.depth += 1
            elif ch == "}":
                self.depth = max(0, self.depth - 1)
            self.parts.append(ch)

    def text(self) -> str:
        try:
            data = repair_json("".join(self.parts))
        except ValueError:
            return ""
        items = data.get("sentences") if isinstance(data, dict) else None
        if not isinstance(items, list):
            return ""
        return " ".join(strip_markers(str(it["text"])).strip() for it in items
                        if isinstance(it, dict) and isinstance(it.get("text"), str))
