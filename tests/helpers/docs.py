"""Generators for test documents (PDFs via fpdf2, text in various encodings)."""

from __future__ import annotations

from pathlib import Path


def make_pdf(path: Path, pages: list[str], *, title: str = "", author: str = "", blank_pages: tuple[int, ...] = (),
             user_password: str | None = None) -> Path:
    """Write a PDF with one text page per entry (1-based ``blank_pages`` get no text layer)."""
    from fpdf import FPDF

    pdf = FPDF()
    if title:
        pdf.set_title(title)
    if author:
        pdf.set_author(author)
    pdf.set_font("Helvetica", size=11)
    for i, text in enumerate(pages, 1):
        pdf.add_page()
        if i in blank_pages:
            pdf.rect(20, 20, 100, 60, style="F")  # a drawing, no text: like a scanned page
            continue
        pdf.multi_cell(0, 6, text)
    if user_password is not None:
        from fpdf.enums import EncryptionMethod

        pdf.set_encryption(owner_password="owner-secret", user_password=user_password,
                           encryption_method=EncryptionMethod.AES_256)
    pdf.output(str(path))
    return path
