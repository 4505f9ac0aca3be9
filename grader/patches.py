"""Every change the grader makes to the internals of a third-party library, in one place.

Each patch is guarded by the versions it was written for (:data:`RANGES`). Outside its range it is
not applied and the library keeps its own behaviour, which is slower but right; nothing here
changes a grade.

- :func:`block_rfc3987_syntax` (jsonschema): jsonschema imports ``rfc3987_syntax`` when it is
  installed, and that builds about twenty Earley parsers at import: 2.8 s of CPU in every grading
  process (the command, its fork server). It only checks the "iri" and "iri-reference" string
  formats, which no schema the grader validates uses; without it jsonschema skips those two formats.
- :func:`in_process_alembic` (nbgrader): nbgrader's ``Gradebook`` runs ``alembic heads`` in a
  subprocess each time it creates a database (one Python start-up that imports SQLAlchemy and
  alembic, several seconds on a busy machine). The answer is the same head revision, computed here
  once from the same scripts, in this process.
- :func:`shared_jinja_cache` (nbconvert): nbconvert builds a new Jinja environment for each
  exporter, and nbgrader a new exporter for each feedback page, so Jinja's per-environment bytecode
  cache never hits; every environment gets one shared cache instead (see :mod:`grader.warm`).

``tests/grading/test_patches.py`` checks that each applies on the installed versions.
"""

from __future__ import annotations

import os
import sys

# patch -> (distribution, first version it was written for, first version it was not)
RANGES = {
    "block_rfc3987_syntax": ("jsonschema", (4, 18), (5,)),
    "in_process_alembic": ("nbgrader", (0, 9), (0, 10)),
    "shared_jinja_cache": ("nbconvert", (7,), (8,)),
}
_VERSIONS: dict[str, tuple[int, ...] | None] = {}


def installed_version(dist: str) -> tuple[int, ...] | None:
    """The installed version of ``dist`` as numbers (``(4, 26, 0)``), or None when it is missing.

    Read from the name of its ``.dist-info`` folder on ``sys.path`` (or, failing that, its
    metadata), without importing it: this runs in every grading process, before jsonschema loads.
    """
    if dist not in _VERSIONS:
        text = _version_text(dist)
        parts = []
        for piece in (text or "").split("."):
            digits = piece[:len(piece) - len(piece.lstrip("0123456789"))]
            if not digits:
                break
            parts.append(int(digits))
            if digits != piece:  # "0rc1": the release's numbers end here
                break
        _VERSIONS[dist] = tuple(parts) if text is not None else None
    return _VERSIONS[dist]


def _version_text(dist: str) -> str | None:
    prefix = dist.replace("-", "_").lower() + "-"
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.endswith(".dist-info") and name.lower().startswith(prefix):
                return name[len(prefix):-len(".dist-info")]
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def supported(patch: str) -> bool:
    """Whether ``patch`` was written for the installed version of its library."""
    dist, low, high = RANGES[patch]
    found = installed_version(dist)
    return found is not None and low <= found < high


def block_rfc3987_syntax() -> bool:
    """Make ``import rfc3987_syntax`` fail, so jsonschema does without it; must run before jsonschema
    is imported. Returns whether the block is in place."""
    if not supported("block_rfc3987_syntax"):
        return False
    if "rfc3987_syntax" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # import rfc3987_syntax -> ImportError
    return sys.modules["rfc3987_syntax"] is None


def unblock_rfc3987_syntax() -> None:
    """Undo :func:`block_rfc3987_syntax` (in a grading kernel forked from the zygote: the student's
    code sees the environment a fresh interpreter would)."""
    if "rfc3987_syntax" in sys.modules and sys.modules["rfc3987_syntax"] is None:
        del sys.modules["rfc3987_syntax"]


def _alembic_head() -> str:
    """The gradebook schema's alembic revision, read in-process from nbgrader's migration scripts."""
    from pathlib import Path

    import nbgrader
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(Path(nbgrader.__file__).parent / "alembic")).get_current_head()


def in_process_alembic() -> bool:
    """Make nbgrader stamp new gradebooks without starting the ``alembic`` program (idempotent).
    Returns whether the patch is in place."""
    if not supported("in_process_alembic"):
        return False
    import functools

    import nbgrader.api

    if not getattr(nbgrader.api.get_alembic_version, "_in_process", False):
        head = functools.cache(_alembic_head)
        head._in_process = True
        nbgrader.api.get_alembic_version = head
    return True


def shared_jinja_cache(cache) -> bool:
    """Make every nbconvert template environment created from now on use the Jinja bytecode cache
    ``cache`` (idempotent). Returns whether the patch is in place."""
    if not supported("shared_jinja_cache"):
        return False
    from nbconvert.exporters.templateexporter import TemplateExporter

    original = TemplateExporter._create_environment
    if getattr(original, "_grader_cached", False):
        return True

    def _create_environment(self):
        environment = original(self)
        environment.bytecode_cache = cache
        return environment

    _create_environment._grader_cached = True
    TemplateExporter._create_environment = _create_environment
    return True
