"""PyInstaller entry point: the same ``main`` as the ``notebooklm-local`` console script."""

from notebooklm_local.app import main

raise SystemExit(main())
