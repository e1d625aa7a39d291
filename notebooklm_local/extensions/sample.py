"""The sample notebook that a fresh install opens with (sources shipped in ``resources/sample``)."""

from __future__ import annotations

from notebooklm_local.core.errors import NotebookError
from notebooklm_local.core.paths import resources_dir
from notebooklm_local.services.library_service import AddReport, LibraryService

__all__ = ["SAMPLE_NOTEBOOK", "ensure_sample_notebook"]

SAMPLE_NOTEBOOK = "Sample notebook"


def ensure_sample_notebook(lib: LibraryService) -> tuple[str, AddReport | None]:
    """Create the sample notebook with the shipped sources unless a notebook of that name exists."""
    try:
        lib.notebook(SAMPLE_NOTEBOOK)
        return SAMPLE_NOTEBOOK, None
    except NotebookError:
        pass
    folder = resources_dir() / "sample"
    lib.create_notebook(SAMPLE_NOTEBOOK)
    report = lib.add(SAMPLE_NOTEBOOK, [str(p) for p in sorted(folder.iterdir()) if p.is_file()])
    return SAMPLE_NOTEBOOK, report
