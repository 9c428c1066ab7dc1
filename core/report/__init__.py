"""Stage 3: a run's report, rendered (:mod:`.render`, with ``templates/``) and e-mailed (:mod:`.mail`).

The report's data is :class:`hrsync.results.RunReport`, built by the sync stage and stored with
the run; this package only turns it into text, HTML, JSON or an e-mail.
"""
