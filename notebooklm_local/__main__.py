"""``python -m notebooklm_local`` runs the same entry point as the ``notebooklm-local`` script."""

from notebooklm_local.app import main

raise SystemExit(main())
