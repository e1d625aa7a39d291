"""Adapters over heavy libraries (llama.cpp, Chroma, PDF, web, YouTube, TTS). GUI-free."""
