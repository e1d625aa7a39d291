"""OCR of scanned PDF pages (issue 18): word accuracy and pages/s by scan resolution and defects.

No real scans can be fetched offline, so the scans are generated with the truth known: random lines of
common words (with numbers) rendered in DejaVu Serif 12 pt into an A4 page image at 150 or 300 dpi,
then degraded with PIL/numpy (Gaussian noise, salt-and-pepper specks, a slight blur, rotation as from a
crooked sheet, JPEG compression), placed full-page in a PDF with no text layer and read by the app's PDF
loader (PDFium renders the page at 300 dpi, Tesseract reads it):

    python bench/bench_ocr_scans.py --pages 2 --out bench/results/ocr_scans.json

Word accuracy: matched words (difflib on the word sequences) / words of the truth.
"""

from __future__ import annotations

import argparse
import difflib
import io
import json
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

WORDS = ("the river carries sediment from glaciers into valley where farmers plant barley and rye each spring "
         "while engineers measure discharge at stations along banks during floods 1987 3.5 km survey north "
         "report water level winter summer bridge station data shows rising").split()


def page_image(lines: list[str], dpi: int):  # a PIL image
    from PIL import Image

    from tests.helpers.pdf_defects import page_image_png

    return Image.open(io.BytesIO(page_image_png(lines, dpi=dpi))).convert("L")


def gaussian_noise(sigma: float, seed: int) -> Callable:
    def apply(img):
        import numpy as np
        from PIL import Image

        a = np.asarray(img, dtype=np.float32)
        a = a + np.random.default_rng(seed).normal(0, sigma, a.shape)
        return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "L")
    return apply


def specks(share: float, seed: int) -> Callable:
    def apply(img):
        import numpy as np
        from PIL import Image

        a = np.asarray(img).copy()
        rng = np.random.default_rng(seed)
        mask = rng.random(a.shape)
        a[mask < share / 2] = 0
        a[mask > 1 - share / 2] = 255
        return Image.fromarray(a, "L")
    return apply


def blur(radius: float) -> Callable:
    def apply(img):
        from PIL import ImageFilter

        return img.filter(ImageFilter.GaussianBlur(radius))
    return apply


def rotate(degrees: float) -> Callable:
    def apply(img):
        from PIL import Image

        return img.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=255)
    return apply


CONDITIONS: list[tuple[str, int, list[Callable], int | None]] = [  # name, dpi, steps, JPEG quality (None: PNG)
    ("clean, 150 dpi", 150, [], None),
    ("clean, 300 dpi", 300, [], None),
    ("noise σ=40 + 1% specks, 300 dpi", 300, [gaussian_noise(40, 1), specks(0.01, 2)], None),
    ("noise σ=40 + 1% specks, 150 dpi", 150, [gaussian_noise(40, 1), specks(0.01, 2)], None),
    ("blur r=1 px + JPEG q=40, 150 dpi", 150, [blur(1.0)], 40),
    ("rotated 1°, 300 dpi", 300, [rotate(1.0)], None),
    ("rotated 3°, 300 dpi", 300, [rotate(3.0)], None),
    ("rotated 2° + noise σ=25, 150 dpi", 150, [rotate(2.0), gaussian_noise(25, 3)], None),
]


def scan_pdf(path: Path, pages: list[list[str]], dpi: int, steps: list[Callable], jpeg: int | None) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    for lines in pages:
        img = page_image(lines, dpi)
        for step in steps:
            img = step(img)
        buf = io.BytesIO()
        if jpeg:
            img.save(buf, format="JPEG", quality=jpeg)
        else:
            img.save(buf, format="PNG")
        pdf.add_page()
        pdf.image(io.BytesIO(buf.getvalue()), x=0, y=0, w=pdf.w, h=pdf.h)
    pdf.output(str(path))
    return path


def word_accuracy(truth: list[list[str]], text: str) -> float:
    want = [w for page in truth for line in page for w in line.split()]
    got = text.split()
    sm = difflib.SequenceMatcher(None, want, got, autojunk=False)
    return sum(b.size for b in sm.get_matching_blocks()) / len(want)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=2, help="pages per condition")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if shutil.which("tesseract") is None:
        print("tesseract is not installed", file=sys.stderr)
        return 1
    from notebooklm_local.services.loaders.pdf import load_pdf_bytes

    rng = random.Random(18)
    rows = []
    for name, dpi, steps, jpeg in CONDITIONS:
        truth = [[" ".join(rng.choice(WORDS) for _ in range(8)) for _ in range(25)] for _ in range(args.pages)]
        with tempfile.TemporaryDirectory() as tmp:
            f = scan_pdf(Path(tmp) / "scan.pdf", truth, dpi, steps, jpeg)
            data = f.read_bytes()
            t0 = time.perf_counter()
            doc = load_pdf_bytes(data, f.name)
            dt = time.perf_counter() - t0
        row = {"condition": name, "dpi": dpi, "pages": args.pages, "ocr_pages": len(doc.metadata.get("ocr_pages", [])),
               "word_accuracy": round(word_accuracy(truth, doc.text), 4), "s_per_page": round(dt / args.pages, 2),
               "pages_per_s": round(args.pages / dt, 3), "pdf_kb": round(len(data) / 1024)}
        rows.append(row)
        print(json.dumps(row, ensure_ascii=False), flush=True)
    result = {"engine": "Tesseract (via the PDF loader, PDFium render at 300 dpi)", "rows": rows}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
