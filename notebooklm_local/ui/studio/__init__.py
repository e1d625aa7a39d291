"""The studio: the pane (:mod:`.pane`), one module per tab on a shared base (:mod:`.tab_base`), the job
plumbing (:mod:`.jobs`), the stream reader, the density chart and the shared widgets."""
