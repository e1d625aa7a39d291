"""notebooklm-local: a private, offline NotebookLM-style knowledge notebook.

Importing the package has no side effects; ``notebooklm_local.app:main`` is the entry point.
"""

__version__ = "0.1.0"
APP_NAME = "notebooklm-local"
APP_DISPLAY_NAME = "NotebookLM Local"
