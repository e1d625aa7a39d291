"""How a studio output was made (its provenance card), and the notebook's citation health, as dialogs.

Provenance is what ``StudioService`` keeps in each output's payload (``payload["provenance"]``): model
file and quantization, engine, backend, context size, GPU layers, seed, temperature, retries, the prompt
templates (name, origin, hash), the sources and their versions, the checker, and when. Citation health
is ``services.health.notebook_health`` (the code of ``notebooklm-local notebook health``).
"""

from __future__ import annotations

import html
import time
from typing import Any

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from notebooklm_local.ui.theme import css

__all__ = ["provenance_html", "health_html", "InfoDialog"]


def _row(label: str, value: Any) -> str:
    return f"<tr><td style='color:{css('muted')};padding-right:12px'>{html.escape(label)}</td><td>{html.escape(str(value))}</td></tr>"


def provenance_html(prov: dict[str, Any] | None, *, kind: str = "", title: str = "") -> str:
    """The provenance card of an output (an empty card says the output predates provenance)."""
    head = f"<h3>{html.escape(title or 'Studio output')}</h3>" + (f"<p style='color:{css('muted')}'>{html.escape(kind)}</p>"
                                                                   if kind else "")
    if not prov:
        return head + "<p>This output was made before provenance was recorded.</p>"
    rows = [
        _row("Model", prov.get("model", "")),
        _row("Quantization", prov.get("quantization") or "—"),
        _row("Engine / backend", f"{prov.get('engine', '')} / {prov.get('backend', '') or '—'}"),
        _row("Context (n_ctx)", prov.get("n_ctx", "—")),
        _row("GPU layers", prov.get("gpu_layers", "—")),
        _row("Temperature", prov.get("temperature", "—")),
        _row("Seed", prov.get("seed") if prov.get("seed") is not None else "—"),
        _row("Retries allowed", prov.get("retries", "—")),
        _row("Checked by", prov.get("checker", "—")),
    ]
    created = prov.get("created")
    if isinstance(created, (int, float)):
        rows.append(_row("Made", time.strftime("%Y-%m-%d %H:%M", time.localtime(created))))
    tpl = "".join(f"<li>{html.escape(t.get('name', ''))} ({html.escape(t.get('origin', ''))}) "
                  f"<code>{html.escape(t.get('sha256', ''))}</code></li>" for t in prov.get("templates", []))
    src = "".join(f"<li>{html.escape(s.get('title', ''))} <code>{html.escape(str(s.get('sha256', ''))[:12])}</code>"
                  + (f" — version of {time.strftime('%Y-%m-%d %H:%M', time.localtime(s['updated']))}"
                     if isinstance(s.get("updated"), (int, float)) else "") + "</li>" for s in prov.get("sources", []))
    return (head + f"<table>{''.join(rows)}</table>"
            + (f"<p><b>Prompt templates</b></p><ul>{tpl}</ul>" if tpl else "")
            + (f"<p><b>Sources</b></p><ul>{src}</ul>" if src else ""))


def health_html(report: dict[str, Any], notebook: str) -> str:
    """A notebook's citation health (``HealthReport.to_json()``) for people."""
    share = float(report.get("supported_share", 1.0))
    parts = [f"<h3>Citation health — {html.escape(notebook)}</h3>",
             f"<p>{report.get('answers', 0)} chat answers and {report.get('outputs', 0)} studio outputs: "
             f"<b>{share:.0%}</b> of {report.get('sentences', 0)} sentences that claim something are supported by "
             f"the passages they cite ({report.get('citations', 0)} citations).</p>"]
    flags = report.get("flags") or {}
    if flags:
        parts.append("<p><b>Flags by kind</b></p><table>" + "".join(_row(k, v) for k, v in flags.items()) + "</table>")
    stale = report.get("stale_citations") or []
    if stale:
        parts.append(f"<p><b>{len(stale)} citation{'s' if len(stale) != 1 else ''} no longer match their source</b> "
                     "(re-indexed or changed since): the quote is not at the cited place any more.</p><ul>"
                     + "".join(f"<li>{html.escape(str(s.get('source_title') or s.get('source_id', '')))}: "
                               f"\u201c{html.escape(str(s.get('quote', ''))[:160])}\u201d</li>" for s in stale[:50])
                     + "</ul>")
    missing = int(report.get("missing_sources", 0) or 0)
    if missing:
        parts.append(f"<p>{missing} citation{'s' if missing != 1 else ''} point at sources that were removed.</p>")
    if not flags and not stale and not missing:
        parts.append("<p>No flags, and every citation still matches its source.</p>")
    return "".join(parts)


class InfoDialog(QDialog):
    """A read-only rich-text card (provenance, citation health) with a Close button."""

    def __init__(self, title: str, body_html: str, parent: QWidget | None = None, *, name: str = "info-dialog") -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setWindowTitle(title)
        layout = QVBoxLayout(self)
        self.view = QTextBrowser()
        self.view.setObjectName(f"{name}-text")
        self.view.setOpenExternalLinks(False)
        self.view.setHtml(body_html)
        layout.addWidget(self.view)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(560, 460)
