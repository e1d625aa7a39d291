"""Import numpy-based native packages (numpy, llama_cpp, chromadb) one thread at a time.

numpy is not safe to import from two threads at once: the window's backend probe (llama_cpp) and the
first index opening (chromadb) run on different worker lanes and raced ("partially initialized module
'numpy._typing'"). The window used to import numpy on the GUI thread before starting any worker, which
put ~0.1-0.2 s on the cold start; a lock around the first import of each of these packages does the same
job off the GUI thread.
"""

from __future__ import annotations

import importlib
import sys
import threading
from types import ModuleType

__all__ = ["import_serialized"]

_lock = threading.Lock()


def import_serialized(name: str) -> ModuleType:
    """``importlib.import_module(name)``, holding a process-wide lock the first time (later calls: a dict
    lookup, no lock)."""
    mod = sys.modules.get(name)
    if mod is not None and not getattr(getattr(mod, "__spec__", None), "_initializing", False):
        return mod
    with _lock:
        return importlib.import_module(name)
