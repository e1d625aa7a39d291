"""Studio outputs made from the sources: cited summaries, chain of density, podcasts (``service.py``)."""
