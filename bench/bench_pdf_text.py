"""PDF text quality on real-world PDFs, before/after issue 18, against poppler's ``pdftotext``.

The regression set is assembled from Debian packages that ship PDF manuals (kept out of the repository):

    python bench/bench_pdf_text.py --fetch ~/.cache/notebooklm-local/pdf-regset   # apt-get download + dpkg-deb -x
    python bench/bench_pdf_text.py --root ~/.cache/notebooklm-local/pdf-regset --pages 10

For every distinct PDF (first ``--pages`` pages) it compares:

- *before*: pypdf's ``extract_text`` as the loader used it (no re-extraction, no ligature/glyph-name folding),
  title = metadata title or the file stem;
- *after*: ``load_pdf_bytes`` (pypdf + PDFium re-extraction of glued pages, folding, title heuristics);
- *pdfium only*: PDFium's text of every page (what replacing pypdf outright would give);
- *reference*: ``pdftotext`` (poppler-utils), for vocabulary and pages only.

Figures: vocabulary coverage (share of pdftotext's distinct words of ≥ 3 letters, lower-cased and
ligature-folded, found in the text), glued share (letters in runs of ≥ 16 letters that are not words of
the reference), ligature characters, leaked glyph names, junk titles (by ``is_junk_title``, so "after"
can only be read together with the list of titles written to the JSON), page attribution (share of
blocks whose first five words occur in pdftotext's text of the block's page), reading order (share of
pdftotext's word bigrams found in the text; LaTeX News issues are two-column), seconds per page. Also OCR
accuracy and pages/s on generated scanned pages (text rendered to an image, so the truth is known), and
subtitle decoding of short files in 8 legacy encodings.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import io
import json
import logging
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C

from notebooklm_local.services.loaders.pdf import load_pdf_bytes
from notebooklm_local.services.loaders.pdf_text import (
    _GLYPH_NAME,
    _map_glyph_name,
    glued_share,
    is_junk_title,
)

PACKAGES = ["r-doc-pdf", "asymptote-doc", "gnuplot-doc", "octave-doc", "xfig-doc", "texlive-latex-base-doc"]
WORD = re.compile(r"[^\W\d_]{3,}")
LIG = re.compile("[\ufb00-\ufb06]")
FOLD = {cp: {0xFB00: "ff", 0xFB01: "fi", 0xFB02: "fl", 0xFB03: "ffi", 0xFB04: "ffl"}.get(cp, "st")
        for cp in range(0xFB00, 0xFB07)}


def glyph_names(text: str) -> int:
    """Leaked glyph names the loader maps ("/zero.alt", "/f_f_i"), not paths like "/usr/share"."""
    return sum(1 for m in _GLYPH_NAME.finditer(text) if _map_glyph_name(m) != m.group(0))


def pdfium_text(data: bytes) -> str:
    import pypdfium2

    doc = pypdfium2.PdfDocument(data)
    try:
        return "\n".join(doc[i].get_textpage().get_text_bounded() for i in range(len(doc)))
    finally:
        doc.close()


def norm_words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text.translate(FOLD))]


def page_attribution(doc, ref_pages: list[str]) -> float:
    """Share of blocks whose first words (5) occur, in order, in pdftotext's text of the block's own page."""
    ok = total = 0
    for b in doc.blocks:
        words = norm_words(b.text)[:5]
        if len(words) < 3 or b.page is None or b.page > len(ref_pages):
            continue
        total += 1
        ok += " ".join(words) in " ".join(norm_words(ref_pages[b.page - 1]))
    return ok / total if total else 1.0


def reading_order(text: str, ref: str) -> float:
    """Share of pdftotext's word bigrams (its reading order, columns one after the other) found in the text."""
    a, b = norm_words(ref), norm_words(text)
    ref_pairs = list(zip(a, a[1:], strict=False))
    ours = set(zip(b, b[1:], strict=False))
    return sum(p in ours for p in ref_pairs) / len(ref_pairs) if ref_pairs else 1.0


def vocab(text: str) -> set[str]:
    return {w.lower() for w in WORD.findall(text.translate(FOLD))}


def fetch(dest: Path) -> None:
    C.fetch_debs(dest, PACKAGES)


def first_pages(data: bytes, n: int) -> bytes:
    from pypdf import PdfReader, PdfWriter

    reader = PdfReader(io.BytesIO(data), strict=False)
    if len(reader.pages) <= n:
        return data
    writer = PdfWriter()
    for i in range(n):
        writer.add_page(reader.pages[i])
    if reader.metadata:
        writer.add_metadata({k: v for k, v in reader.metadata.items() if isinstance(v, str)})
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def before(data: bytes, name: str) -> tuple[str, str]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data), strict=False)
    texts = []
    for page in reader.pages:
        try:
            texts.append(page.extract_text() or "")
        except Exception:  # noqa: BLE001
            texts.append("")
    try:
        title = str(reader.metadata.title or "").strip() if reader.metadata else ""
    except Exception:  # noqa: BLE001
        title = ""
    return "\n".join(texts), title or Path(name).stem


def pdf_files(root: Path, max_mb: float) -> list[Path]:
    seen: set[str] = set()
    out = []
    for p in sorted(root.rglob("*.pdf")):
        if p.is_symlink() or not p.is_file() or p.stat().st_size > max_mb * 1e6:
            continue
        digest = hashlib.sha1(p.read_bytes()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            out.append(p)
    return out


def bench_pdfs(root: Path, pages: int, max_mb: float) -> dict:
    rows = []
    for p in pdf_files(root, max_mb):
        try:
            data = first_pages(p.read_bytes(), pages)
        except Exception as e:  # noqa: BLE001
            print(f"skip {p.name}: {e}")
            continue
        ref = subprocess.run(["pdftotext", "-l", str(pages), "-enc", "UTF-8", str(p), "-"],
                             capture_output=True, text=True, errors="replace").stdout
        ref_pages = ref.split("\f")
        rv = vocab(ref)
        if len(rv) < 20:
            continue  # figures, empty pages: nothing to compare
        t0 = time.perf_counter()
        b_text, b_title = before(data, p.name)
        t_before = time.perf_counter() - t0
        t0 = time.perf_counter()
        try:
            doc = load_pdf_bytes(data, p.name, ocr=False)
        except Exception as e:  # noqa: BLE001
            print(f"after failed on {p.name}: {e}")
            continue
        t_after = time.perf_counter() - t0
        n = doc.metadata["pages"]
        try:
            pdfium_only = pdfium_text(data)
        except Exception:  # noqa: BLE001
            pdfium_only = ""
        row = {
            "file": str(p.relative_to(root)), "pages": n,
            "cov_before": len(rv & vocab(b_text)) / len(rv), "cov_after": len(rv & vocab(doc.text)) / len(rv),
            "cov_pdfium_only": len(rv & vocab(pdfium_only)) / len(rv),
            "page_attribution": page_attribution(doc, ref_pages),
            "order_before": reading_order(b_text, ref), "order_after": reading_order(doc.text, ref),
            "glued_before": glued_share(b_text, rv), "glued_after": glued_share(doc.text, rv),
            "lig_before": len(LIG.findall(b_text)), "lig_after": len(LIG.findall(doc.text)),
            "glyph_before": glyph_names(b_text), "glyph_after": glyph_names(doc.text),
            "title_before": b_title, "title_after": doc.title, "title_source": doc.metadata.get("title_source"),
            "junk_before": is_junk_title(b_title, p.name), "junk_after": is_junk_title(doc.title, p.name),
            "respaced_pages": len(doc.metadata.get("respaced_pages", [])),
            "s_per_page_before": t_before / n, "s_per_page_after": t_after / n,
        }
        rows.append(row)
        print(f"{row['file'][-48:]:48} cov {row['cov_before']:.3f} -> {row['cov_after']:.3f}  "
              f"lig {row['lig_before']:4d} -> {row['lig_after']}  title {b_title[:30]!r} -> {doc.title[:40]!r}",
              flush=True)
    return summarize(rows)


def summarize(rows: list[dict]) -> dict:
    def mean(key: str) -> float:
        return statistics.mean(r[key] for r in rows) if rows else 0.0

    def count(pred) -> int:
        return sum(1 for r in rows if pred(r))

    worst = sorted(rows, key=lambda r: r["cov_before"])[:8]
    return {
        "pdfs": len(rows), "pages": sum(r["pages"] for r in rows),
        "coverage_mean": {"before": mean("cov_before"), "after": mean("cov_after"),
                          "pdfium_only": mean("cov_pdfium_only")},
        "coverage_min": {"before": min((r["cov_before"] for r in rows), default=0),
                         "after": min((r["cov_after"] for r in rows), default=0),
                         "pdfium_only": min((r["cov_pdfium_only"] for r in rows), default=0)},
        "page_attribution_mean": mean("page_attribution"),
        "reading_order_mean": {"before": mean("order_before"), "after": mean("order_after")},
        "reading_order_two_column_ltnews": {
            "pdfs": count(lambda r: "/ltnews" in r["file"]),
            "before": statistics.mean([r["order_before"] for r in rows if "/ltnews" in r["file"]] or [0]),
            "after": statistics.mean([r["order_after"] for r in rows if "/ltnews" in r["file"]] or [0])},
        "pdfs_coverage_below_0.95": {"before": count(lambda r: r["cov_before"] < 0.95),
                                     "after": count(lambda r: r["cov_after"] < 0.95),
                                     "pdfium_only": count(lambda r: r["cov_pdfium_only"] < 0.95)},
        "pdfs_with_glued_share_over_5pct": {"before": count(lambda r: r["glued_before"] > 0.05),
                                            "after": count(lambda r: r["glued_after"] > 0.05)},
        "pdfs_with_ligatures": {"before": count(lambda r: r["lig_before"] > 0), "after": count(lambda r: r["lig_after"] > 0)},
        "ligature_chars": {"before": sum(r["lig_before"] for r in rows), "after": sum(r["lig_after"] for r in rows)},
        "leaked_glyph_names": {"before": sum(r["glyph_before"] for r in rows), "after": sum(r["glyph_after"] for r in rows)},
        "junk_titles": {"before": count(lambda r: r["junk_before"]), "after": count(lambda r: r["junk_after"])},
        "title_sources_after": {s: count(lambda r, s=s: r["title_source"] == s) for s in ("metadata", "page 1", "file name")},
        "pdfs_respaced": count(lambda r: r["respaced_pages"] > 0),
        "s_per_page_median": {"before": statistics.median(r["s_per_page_before"] for r in rows) if rows else 0,
                              "after": statistics.median(r["s_per_page_after"] for r in rows) if rows else 0},
        "worst_before": [{k: r[k] for k in ("file", "cov_before", "cov_after", "glued_before", "glued_after")} for r in worst],
        "rows": rows,
    }


def bench_ocr(n_pages: int) -> dict:
    """Word accuracy and pages/s of the loader's OCR on generated scanned pages."""
    import random
    import tempfile

    from tests.helpers.pdf_defects import scanned_pdf

    if shutil.which("tesseract") is None:
        return {"skipped": "tesseract is not installed"}
    rng = random.Random(18)
    words = ("the river carries sediment from glaciers into valley where farmers plant barley and rye each spring "
             "while engineers measure discharge at stations along banks during floods 1987 3.5 km").split()
    truth = [[" ".join(rng.choice(words) for _ in range(8)) for _ in range(25)] for _ in range(n_pages)]
    with tempfile.TemporaryDirectory() as tmp:
        f = scanned_pdf(Path(tmp) / "scan.pdf", truth)
        t0 = time.perf_counter()
        doc = load_pdf_bytes(f.read_bytes(), f.name)
        dt = time.perf_counter() - t0
    want = [w for page in truth for line in page for w in line.split()]
    got = doc.text.split()
    sm = difflib.SequenceMatcher(None, want, got, autojunk=False)
    matched = sum(b.size for b in sm.get_matching_blocks())
    return {"engine": doc.metadata.get("ocr_engine"), "pages": n_pages, "word_accuracy": matched / len(want),
            "pages_per_s": n_pages / dt, "s_per_page": dt / n_pages}


SUBTITLE_POOLS = {
    ("fr", "cp1252"): ["Où est la télé ?", "À côté du café.", "Ça coûte trois euros.", "C'est très cher, n'est-ce pas ?",
                       "Le cœur a ses raisons.", "Il était là hier soir.", "Déjà vu, encore une fois.",
                       "Voilà ce que je pensais.", "On se voit à l'école.", "Qu'est-ce que tu préfères ?"],
    ("es", "cp1252"): ["¿Dónde está el niño?", "¡Aquí, señor!", "Mañana será otro día.", "La canción es muy bonita.",
                       "¿Qué hora es?", "Está en el jardín.", "No sé, quizás después.", "El año pasado fuimos a España."],
    ("pl", "cp1250"): ["Zażółć gęślą jaźń.", "Wątek się skończył.", "Pójdźmy dalej, proszę.", "Dziękuję bardzo za pomoc.",
                       "Gdzie jest dworzec?"],
    ("cs", "cp1250"): ["Příliš žluťoučký kůň.", "Děkuji, mám se dobře.", "Kde je nádraží?", "Úplně jsem zapomněl."],
    ("ru", "cp1251"): ["Привет, как дела?", "Всё хорошо, спасибо.", "Мы идём домой.", "Где находится вокзал?",
                       "Сегодня очень холодно."],
    ("el", "cp1253"): ["Καλημέρα σας.", "Τι κάνετε σήμερα;", "Ευχαριστώ πολύ.", "Πού είναι ο σταθμός;"],
    ("tr", "cp1254"): ["İstanbul'da güzel bir gün.", "Çok teşekkürler.", "Şimdi eve dönüyoruz.", "Ağaçlar yeşil."],
    ("ja", "shift_jis"): ["こんにちは、元気ですか？", "今日はいい天気ですね。", "駅はどこですか？"],
}


def bench_subtitles() -> dict:
    """Short .srt files (1-3 cues) in legacy encodings: decoded exactly by charset detection alone (the
    loader before issue 18) and by ``decode_subtitle_bytes`` now."""
    import random

    from charset_normalizer import from_bytes

    from notebooklm_local.services.loaders.transcripts import decode_subtitle_bytes

    def srt(lines: list[str]) -> str:
        return "".join(f"{i}\n00:00:{2 * i:02d},000 --> 00:00:{2 * i + 1:02d},500\n{t}\n\n" for i, t in enumerate(lines, 1))

    def old(data: bytes) -> str | None:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            best = from_bytes(data).best()
            return None if best is None else str(best)

    rng = random.Random(18)
    out = {}
    for (lang, enc), pool in SUBTITLE_POOLS.items():
        n = 40 if enc == "cp1252" else 20
        right_old = right_new = 0
        for _ in range(n):
            text = srt([rng.choice(pool) for _ in range(rng.randint(1, 3))])
            data = text.encode(enc)
            right_old += old(data) == text
            right_new += decode_subtitle_bytes(data) == text
        out[f"{lang} ({enc})"] = {"files": n, "before": right_old, "after": right_new}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=Path, help="folder with the extracted packages (PDFs anywhere below)")
    ap.add_argument("--fetch", type=Path, help="download and extract the Debian packages into this folder, then exit")
    ap.add_argument("--pages", type=int, default=10, help="first pages of each PDF (default 10)")
    ap.add_argument("--max-mb", type=float, default=4.0)
    ap.add_argument("--ocr-pages", type=int, default=4)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "bench_pdf_text.json")
    args = ap.parse_args()
    logging.disable(logging.WARNING)  # pypdf's warnings about odd PDFs
    if args.fetch:
        fetch(args.fetch)
        return
    if shutil.which("pdftotext") is None:
        sys.exit("pdftotext is needed as the reference: apt-get install poppler-utils")
    result: dict = {"pages_per_pdf": args.pages}
    if args.root:
        result["pdfs"] = bench_pdfs(args.root, args.pages, args.max_mb)
    result["ocr"] = bench_ocr(args.ocr_pages) if args.ocr_pages else {}
    result["subtitles"] = bench_subtitles()
    summary = {k: v for k, v in result.get("pdfs", {}).items() if k != "rows"}
    print(json.dumps({**summary, "ocr": result["ocr"], "subtitles": result["subtitles"]}, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
