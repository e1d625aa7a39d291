"""Pure-Python core: domain model, settings, paths, jobs. No Qt, no llama.cpp, no Chroma here."""
