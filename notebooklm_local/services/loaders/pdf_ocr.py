"""OCR for scanned PDF pages: PDFium renders the page, Tesseract (Debian's ``tesseract-ocr``) reads it.

Chosen with figures (bench/README.md, "PDF text"): on generated scanned pages Tesseract 5.3 read every
word (word accuracy 1.000) in about 1.3 s per A4 page on one thread, while RapidOCR (ONNX models in its
wheel) took ~9 s a page on 2 cores and lost inter-word spaces (word accuracy 0.80) and pulls in OpenCV.
Tesseract is Apache-2.0, has 100+ languages including CJK (``tesseract-ocr-chi-sim``, ``-jpn``, ...),
and is called as a program, so no Python package is needed. It stays optional: without it the loader
says which pages are scanned and how to install it.

Environment: ``NOTEBOOKLM_LOCAL_OCR=0`` turns OCR off; ``NOTEBOOKLM_LOCAL_OCR_LANG`` picks Tesseract
languages (e.g. ``eng+fra``; default ``eng`` when installed, else the first installed language).
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass

__all__ = ["OcrEngine", "find_ocr_engine", "OCR_INSTALL_HINT", "ocr_enabled"]

log = logging.getLogger(__name__)

OCR_INSTALL_HINT = "install Tesseract OCR to read them (Debian/Ubuntu: sudo apt-get install tesseract-ocr)"
_RENDER_DPI = 300
_TIMEOUT_S = 120


def ocr_enabled() -> bool:
    return os.environ.get("NOTEBOOKLM_LOCAL_OCR", "1").strip().lower() not in ("0", "false", "no", "off")


@dataclass(frozen=True)
class OcrEngine:
    """Tesseract through its command line."""

    executable: str
    languages: str
    name: str = "Tesseract"

    def read_png(self, png: bytes) -> str:
        """The text of one page image (PNG bytes); raises OSError/subprocess errors on failure."""
        env = dict(os.environ, OMP_THREAD_LIMIT="1")  # one thread: measured as fast as 2 on a busy 2-core box
        proc = subprocess.run(
            [self.executable, "stdin", "stdout", "-l", self.languages, "--psm", "3"],
            input=png, capture_output=True, timeout=_TIMEOUT_S, env=env, check=False,
        )
        if proc.returncode != 0:
            raise OSError(proc.stderr.decode("utf-8", "replace").strip()[-300:] or f"exit status {proc.returncode}")
        return proc.stdout.decode("utf-8", "replace")


@functools.lru_cache(maxsize=4)
def _tesseract(executable: str, wanted: str) -> OcrEngine | None:
    try:
        out = subprocess.run([executable, "--list-langs"], capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError) as e:
        log.info("tesseract unusable: %s", e)
        return None
    langs = [ln.strip() for ln in out.stdout.decode("utf-8", "replace").splitlines()[1:] if ln.strip()]
    langs = [lang for lang in langs if lang != "osd"]
    if not langs:
        return None
    if wanted:
        chosen = "+".join(lang for lang in wanted.split("+") if lang in langs)
    else:
        chosen = "eng" if "eng" in langs else langs[0]
    return OcrEngine(executable, chosen or langs[0])


def find_ocr_engine() -> OcrEngine | None:
    """Tesseract when installed (and OCR not turned off), else None."""
    if not ocr_enabled():
        return None
    exe = shutil.which("tesseract")
    if exe is None:
        return None
    return _tesseract(exe, os.environ.get("NOTEBOOKLM_LOCAL_OCR_LANG", "").strip())


def render_page_png(pdfium_doc: object, index: int, dpi: int = _RENDER_DPI) -> bytes:
    """Render one page of a ``pypdfium2.PdfDocument`` to grayscale PNG bytes."""
    import io

    page = pdfium_doc[index]  # type: ignore[index]
    try:
        image = page.render(scale=dpi / 72, grayscale=True).to_pil()
    finally:
        page.close()
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()
