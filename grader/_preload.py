"""Imported once by the grading fork server (:class:`grader.forkserver.Workers`), never elsewhere.

It warms the fork server up (:mod:`grader.warm`) so that every worker forked from it starts warm.
Warming is only an optimisation: if it fails, workers render feedback from cold, as before.
"""

# What every autograde imports on its first run (nbclient's IPython, the gradebook's SQLite
# dialect): imported here once instead of in every worker.
import IPython  # noqa: F401
import sqlalchemy.dialects.sqlite  # noqa: F401
from IPython.core import profiledir  # noqa: F401

from grader import warm

try:
    warm.warm()
except Exception:  # noqa: BLE001 - a cold worker is slower, never wrong
    warm.CACHE.clear()
