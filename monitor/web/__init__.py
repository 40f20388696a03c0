"""The analysts' web app behind `claimwatch serve` (docs/webapp.md): inbox and triage, seller and page
history, search, evidence, sites and users.

Flask views live in ``monitor.web.app`` and the ``views_*`` modules; the data they read and write is in
Flask-free modules (``users``, ``audit``, ``triage``, ``inbox``, ``timeline``, ``search``) that the CLI,
the exports and the reports use too. Importing this package imports no web framework.
"""
