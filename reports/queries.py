"""The only door from reports/ into the database: read-only queries over the ledger.

Every report (进销存, the card-purchase and 外配处方 statements, receivables, the inspection export,
the compliance checklist) reads through functions defined here, never through server.db itself, and
none of them writes. The import contract "reports reach the database only through reports.queries"
(pyproject.toml, [tool.importlinter]) holds the rest of reports/ to it.

Empty for now: the first report brings its first query.
"""

from __future__ import annotations
