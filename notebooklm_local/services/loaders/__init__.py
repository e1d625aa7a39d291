"""Built-in source loaders. Each implements ``notebooklm_local.core.documents.SourceLoader``."""
