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
- :func:`timed_kernel_start` (nbclient): the seconds a notebook client spends starting its kernel
  and waiting until it answers, added up for the profile of a grading job (``Result.timings``);
  only while a job autogrades, in its own worker process.
- :func:`short_ready_flush` (jupyter_client): ``wait_for_ready``, once the kernel has answered,
  reads IOPub until 0.2 s pass without a message, to drop the start-up messages: 0.2 s of waiting
  in every grading job. The grading kernel's start-up messages are already there when it answers
  (they answer the same request), so the flush stops after :data:`READY_FLUSH` s of silence
  instead; a message that came later would be for no request of the notebook's, and nbclient skips
  those anyway.
- :func:`shared_jinja_cache` (nbconvert): nbconvert builds a new Jinja environment for each
  exporter, and nbgrader a new exporter for each feedback page, so Jinja's per-environment bytecode
  cache never hits; every environment gets one shared cache instead (see :mod:`grader.warm`).
- :func:`quick_kernel_connect` (jupyter_client): a kernel client connects its sockets as soon as
  the kernel is launched, before the kernel has bound its end; ZeroMQ then tries again every
  0.1 s, so the client found the kernel's sockets up to 0.1 s (one socket: about 0.15 s in a
  traced start) after they were there. In grading jobs a client's sockets try again every
  :data:`RECONNECT_INTERVAL` ms.
- :func:`quick_kernel_wait` (jupyter_client): a kernel manager checks whether an ending kernel's
  process has exited every 0.1 s, so each kernel's end cost a grading job at least 0.1 s of
  waiting; in grading jobs it checks every :data:`KERNEL_POLL` s.
- :func:`scratch_gradebooks` (nbgrader): nbgrader opens a new ``Gradebook`` a dozen times in one
  autograde and its feedback, and each builds a SQLAlchemy engine, inspects the database and
  issues its ``CREATE TABLE`` checks, and compiles its queries afresh (SQLAlchemy's compiled-query
  cache belongs to the engine). Within a grading job the gradebook of the job's scratch course is
  opened through one engine per process, warmed in the fork server, its schema checked once, without
  the disk syncs a throwaway copy does not need.
- :func:`quick_html_accessibility` (nbconvert): the HTML exporter parses every page it renders with
  BeautifulSoup's pure-Python parser and writes it out again, to give images without ``alt`` a
  default one and the notebook's input and output areas a ``tabindex``: about 0.1 s for each
  feedback page of 01_activations (thousands of highlighted-code tags), more than half its
  rendering. The same attributes are added to the same tags by a scan of the tags themselves
  (:func:`accessible_html`); a page where that could differ (an element of class ``jp-Notebook``
  that is not the body) goes the library's way.
- :func:`cached_metadata_schema` (nbgrader): nbgrader checks each cell's grading metadata with
  ``jsonschema.validate``, which checks the schema itself against its meta-schema and builds a new
  validator every time; the validator of nbgrader's schema is built once.

And every call of a third-party library's private API, each guarded the same way; outside its range
the rule is applied by the grader's own code, written here after the library's:

- :func:`clamp_late_penalty` (nbgrader): ``AssignLatePenalties._check_late_penalty``, the clamping
  of a late penalty to 0 <= penalty <= the notebook's score.
- :func:`remove_hidden_test_region` (nbgrader): ``ClearHiddenTests._remove_hidden_test_region``,
  the removal of a ``### BEGIN HIDDEN TESTS`` region from a cell.
- :func:`delete_students` (nbgrader): bulk deletes on the gradebook's tables of students,
  submissions, grades and comments; outside its range one ``remove_student`` per student.
- :func:`xdist_scope_scheduling` (pytest-xdist, the test suite only): ``LoadScopeScheduling`` with
  the course's own unit of work in place of its private ``_split_scope``.

``tests/grading/test_patches.py`` checks that each applies on the installed versions.

Each function imports the library it changes inside itself, on purpose: this module runs first in
every grader process (``grader/__init__.py``), before jsonschema may be imported, and a library is
loaded only by the process that patches or calls it. One file of over 500 lines on purpose: every
change to another library's internals is in one place, each with its version guard, so that an
upgrade of nbgrader, jupyter_client or pytest-xdist is checked here and in test_patches.py alone.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager

# patch -> (distribution, first version it was written for, first version it was not)
RANGES = {
    "block_rfc3987_syntax": ("jsonschema", (4, 18), (5,)),
    "in_process_alembic": ("nbgrader", (0, 9), (0, 10)),
    "shared_jinja_cache": ("nbconvert", (7,), (8,)),
    "quick_html_accessibility": ("nbconvert", (7, 17), (8,)),
    "timed_kernel_start": ("nbclient", (0, 8), (0, 12)),
    "short_ready_flush": ("jupyter_client", (8,), (9,)),
    "quick_kernel_connect": ("jupyter_client", (8,), (9,)),
    "quick_kernel_wait": ("jupyter_client", (8,), (9,)),
    "scratch_gradebooks": ("nbgrader", (0, 9), (0, 10)),
    "cached_metadata_schema": ("nbgrader", (0, 9), (0, 10)),
    "clamp_late_penalty": ("nbgrader", (0, 9), (0, 10)),
    "remove_hidden_test_region": ("nbgrader", (0, 9), (0, 10)),
    "delete_students": ("nbgrader", (0, 9), (0, 10)),
    "xdist_scope_scheduling": ("pytest-xdist", (3,), (4,)),
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
    """Make ``import rfc3987_syntax`` fail, so jsonschema does without it; must run before
    jsonschema is imported. Returns whether the block is in place."""
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
    """The gradebook schema's alembic revision, read in-process from nbgrader's migration
    scripts."""
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


@contextmanager
def timed_kernel_start(sink: list):
    """Within the block, append to ``sink`` the seconds each ``NotebookClient.start_new_kernel`` and
    ``start_new_kernel_client`` (start the kernel, wait until it is ready) takes; the methods are
    restored on leaving. Outside its range nothing is timed (``sink`` stays empty)."""
    if not supported("timed_kernel_start"):
        yield sink
        return
    from nbclient import NotebookClient

    names = ("start_new_kernel", "start_new_kernel_client")
    originals = {name: NotebookClient.__dict__[name] for name in names}

    def timed(method):
        def wrapper(self, *args, **kwargs):
            begin = time.perf_counter()
            try:
                return method(self, *args, **kwargs)
            finally:
                sink.append(time.perf_counter() - begin)

        return wrapper

    for name, method in originals.items():
        setattr(NotebookClient, name, timed(method))
    try:
        yield sink
    finally:
        for name, method in originals.items():
            setattr(NotebookClient, name, method)


READY_FLUSH = 0.005  # seconds of IOPub silence that end the flush of short_ready_flush (was 0.2)


def short_ready_flush() -> bool:
    """Make the asynchronous kernel client's ``wait_for_ready`` (what nbclient and so nbgrader
    use) end its IOPub flush after :data:`READY_FLUSH` s of silence (idempotent). Written after
    ``KernelClient._async_wait_for_ready`` of jupyter_client 8, which it otherwise follows step by
    step. Returns whether the patch is in place."""
    if not supported("short_ready_flush"):
        return False
    from jupyter_client.asynchronous.client import AsyncKernelClient

    if getattr(AsyncKernelClient.wait_for_ready, "_grader_short", False):
        return True
    original = AsyncKernelClient.wait_for_ready

    async def wait_for_ready(self, timeout=None):
        channel = self.iopub_channel
        get_msg = channel.get_msg
        state = {"answered": False}

        async def flushing_get_msg(timeout=None):
            # the first IOPub read checks the channel (timeout as jupyter_client's); the reads after
            # the kernel answered are the flush
            if state["answered"]:
                timeout = min(timeout, READY_FLUSH) if timeout is not None else READY_FLUSH
            msg = await get_msg(timeout=timeout)  # Empty when nothing came: as jupyter_client's
            state["answered"] = True
            return msg

        channel.get_msg = flushing_get_msg
        try:
            return await original(self, timeout)
        finally:
            del channel.get_msg  # the channel's own method again

    wait_for_ready._grader_short = True
    AsyncKernelClient.wait_for_ready = wait_for_ready
    return True


RECONNECT_INTERVAL = 10  # ms between a kernel client's attempts to connect (ZeroMQ's: 100)


def quick_kernel_connect() -> bool:
    """Make the sockets of every asynchronous kernel client (what nbclient and so nbgrader use)
    created from now on try to connect again every :data:`RECONNECT_INTERVAL` ms, through the
    default socket options of the ZeroMQ context the client makes for itself (written after
    ``AsyncKernelClient._context_default`` of jupyter_client 8; idempotent). Returns whether the
    patch is in place."""
    if not supported("quick_kernel_connect"):
        return False
    import zmq
    import zmq.asyncio
    from jupyter_client.asynchronous.client import AsyncKernelClient

    if getattr(AsyncKernelClient.__dict__.get("_context_default"), "_grader_quick", False):
        return True

    def _context_default(self) -> zmq.asyncio.Context:
        self._created_context = True
        context = zmq.asyncio.Context()
        context.setsockopt(zmq.RECONNECT_IVL, RECONNECT_INTERVAL)
        return context

    _context_default._grader_quick = True
    AsyncKernelClient._context_default = _context_default
    return True


KERNEL_POLL = 0.005  # seconds between checks that an ending kernel exited (quick_kernel_wait)


def quick_kernel_wait() -> bool:
    """Make the kernel manager's wait for an ending kernel's process (``KernelManager._async_wait``
    of jupyter_client 8, which every shutdown and kill awaits) check every :data:`KERNEL_POLL` s
    instead of every 0.1 s (idempotent). Returns whether the patch is in place."""
    if not supported("quick_kernel_wait"):
        return False
    from jupyter_client.manager import KernelManager

    original = KernelManager._async_wait
    if getattr(original, "_grader_quick", False):
        return True

    async def _async_wait(self, pollinterval: float = 0.1) -> None:
        return await original(self, pollinterval=min(pollinterval, KERNEL_POLL))

    _async_wait._grader_quick = True
    KernelManager._async_wait = _async_wait
    return True


# Per-connection settings of a scratch gradebook (scratch_gradebooks): no disk sync at each commit
# and the rollback journal in memory. A job killed while it writes fails, and its gradebook is never
# read (grader.merge reads the gradebooks of graded jobs only).
SCRATCH_PRAGMAS = ("PRAGMA synchronous=OFF", "PRAGMA journal_mode=MEMORY")
# The engine of scratch_gradebooks, made once per process: each block binds it to its own file.
_SCRATCH: dict = {"engine": None, "path": None, "active": False}


def scratch_engine():
    """The one SQLAlchemy engine of the scratch gradebooks (see :func:`scratch_gradebooks`), made on
    the first call: SQLite, a new connection (with :data:`SCRATCH_PRAGMAS`) to the file of the
    current block for each session, none kept between sessions."""
    if _SCRATCH["engine"] is None:
        from sqlalchemy import create_engine, event
        from sqlalchemy.pool import NullPool

        engine = create_engine("sqlite://", creator=_connect_scratch, poolclass=NullPool,
                               echo=False, future=True)
        event.listen(engine, "connect", _scratch_pragmas)
        _SCRATCH["engine"] = engine
    return _SCRATCH["engine"]


def _connect_scratch():
    import sqlite3

    if _SCRATCH["path"] is None:
        raise RuntimeError("the scratch gradebook engine is used outside scratch_gradebooks()")
    return sqlite3.connect(_SCRATCH["path"])


def _scratch_pragmas(dbapi_connection, connection_record) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SCRATCH_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


@contextmanager
def scratch_gradebooks(folder):
    """Within the block, nbgrader's ``Gradebook`` of the first SQLite file under ``folder`` (a
    grading job's scratch course) that is opened uses :func:`scratch_engine`, bound to that file:
    the first ``Gradebook`` runs nbgrader's own ``__init__`` (schema check, course), a later one
    checks neither (a course id not seen yet in the block is added, as nbgrader does), and closing
    one ends its session. The engine, and with it SQLAlchemy's
    cache of compiled queries, outlives the block: a grading worker forked from a process that
    warmed it (:mod:`grader.warm`) compiles no query nbgrader's bookkeeping has run before. Any
    other gradebook is nbgrader's own. On leaving, nbgrader's methods are restored. Written after
    ``Gradebook.__init__`` and ``close`` of nbgrader 0.9, which it otherwise follows step by step;
    outside its range nothing changes. Yields whether the patch is in place."""
    if not supported("scratch_gradebooks"):
        yield False
        return
    from nbgrader import api
    from sqlalchemy.orm import scoped_session, sessionmaker

    if _SCRATCH["active"]:  # within another block (they do not nest): nbgrader's own
        yield False
        return
    prefix = f"sqlite:///{os.fspath(folder).rstrip(os.sep)}{os.sep}"
    engine = scratch_engine()
    # the file of this block, whether its schema was checked, and the courses it has
    bound = {"url": None, "checked": False, "courses": set()}
    gradebook, create_engine = api.Gradebook, api.create_engine
    original_init, original_close = gradebook.__init__, gradebook.close

    def engine_for(url, *args, **kwargs):
        if bound["url"] is None and isinstance(url, str) and url.startswith(prefix):
            bound["url"], _SCRATCH["path"] = url, url[len("sqlite:///"):]
        return engine if url == bound["url"] else create_engine(url, *args, **kwargs)

    def __init__(self, db_url, course_id="default_course", authenticator=None):
        if not (bound["checked"] and db_url == bound["url"]):
            original_init(self, db_url, course_id, authenticator)
            if self.engine is engine:
                bound["checked"] = True
                bound["courses"].add(course_id)
            return
        self.engine = engine
        self.db = scoped_session(sessionmaker(autoflush=True, bind=engine, future=True))
        if course_id not in bound["courses"]:  # nbgrader adds the course once; nothing removes it
            self.check_course(course_id=course_id)
            bound["courses"].add(course_id)
        self.course_id = course_id
        self.authenticator = authenticator

    def close(self):
        if self.engine is engine:
            self.db.remove()
        else:
            original_close(self)

    api.create_engine = engine_for
    gradebook.__init__, gradebook.close = __init__, close
    _SCRATCH["active"] = True
    try:
        yield True
    finally:
        api.create_engine = create_engine
        gradebook.__init__, gradebook.close = original_init, original_close
        _SCRATCH.update(path=None, active=False)


def cached_metadata_schema() -> bool:
    """Make nbgrader's check of a cell's grading metadata (``jsonschema.validate`` as
    ``nbgrader.nbgraderformat.common`` calls it) use one validator per schema, built (and the schema
    checked) once, raising the same error ``jsonschema.validate`` raises (idempotent). Returns
    whether the patch is in place."""
    if not supported("cached_metadata_schema"):
        return False
    import json
    import types

    import jsonschema
    from nbgrader.nbgraderformat import common

    if getattr(common.jsonschema, "_grader_cached", False):
        return True
    validators: dict[str, object] = {}

    def validate(instance, schema, *args, **kwargs):
        if args or kwargs:  # a call this patch was not written for
            return jsonschema.validate(instance, schema, *args, **kwargs)
        key = json.dumps(schema, sort_keys=True)
        validator = validators.get(key)
        if validator is None:
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            validator = validators[key] = cls(schema)
        error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
        if error is not None:
            raise error

    common.jsonschema = types.SimpleNamespace(validate=validate, _grader_cached=True,
                                              ValidationError=jsonschema.ValidationError)
    return True


def quick_html_accessibility() -> bool:
    """Make nbconvert's ``HTMLExporter.from_notebook_node`` add its accessibility attributes with
    :func:`accessible_html` instead of a BeautifulSoup parse of the whole page (idempotent); the
    rest of the method is nbconvert 7.17's, line by line. Returns whether the patch is in place."""
    if not supported("quick_html_accessibility"):
        return False
    from nbconvert.exporters import html
    from nbconvert.exporters.templateexporter import TemplateExporter

    exporter = html.HTMLExporter
    if getattr(exporter.from_notebook_node, "_grader_quick", False):
        return True
    original = exporter.from_notebook_node

    def from_notebook_node(self, nb, resources=None, **kw):
        given = resources
        langinfo = nb.metadata.get("language_info", {})
        lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
        highlight_code = self.filters.get(
            "highlight_code", html.Highlight2HTML(pygments_lexer=lexer, parent=self))
        resources = self._init_resources(resources)
        filter_data_type = html.WidgetsDataTypeFilter(
            notebook_metadata=self._nb_metadata, parent=self, resources=resources)
        self.register_filter("highlight_code", highlight_code)
        self.register_filter("filter_data_type", filter_data_type)
        page, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        done = accessible_html(page)
        if done is None:  # a page this scan was not written for: nbconvert's own way
            return original(self, nb, given, **kw)
        page, missing_alt = done
        if missing_alt:
            self.log.warning("Alternative text is missing on %s image(s).", missing_alt)
        return page, resources

    from_notebook_node._grader_quick, from_notebook_node._grader_original = True, original
    exporter.from_notebook_node = from_notebook_node
    return True


# The HTML of a rendered page: what is not markup (scripts, styles, comments), and tags
# (as Python's html.parser, which nbconvert's BeautifulSoup uses, reads it: a text area's content
# is markup there)
_RAW_HTML = r"<script\b.*?</script\s*>|<style\b.*?</style\s*>|<!--.*?-->"
_TAG_HTML = r"<([a-zA-Z][a-zA-Z0-9-]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>"
_ATTR_HTML = (r"""(?:^|(?<=[\s"'/]))([^\s"'>/=]+)"""
              r"""(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?""")
ALT_TEXT = "No description has been provided for this image"  # nbconvert's


def accessible_html(page: str) -> tuple[str, int] | None:
    """``page`` with nbconvert 7.17's accessibility attributes: ``alt`` (:data:`ALT_TEXT`) on every
    ``img`` without one, ``tabindex="0"`` on every ``div`` of class ``jp-Cell-inputWrapper`` or
    ``jp-OutputArea-output`` inside an element of class ``jp-Notebook``; and the number of images
    given an ``alt``. ``None`` when an element of class ``jp-Notebook`` is not the page's ``body``
    or ``html`` (which tags are inside it would need the page's tree)."""
    import re

    raw, tag_re, attr_re = (re.compile(_RAW_HTML, re.S | re.I), re.compile(_TAG_HTML),
                            re.compile(_ATTR_HTML))
    out, missing, inside = [], 0, False
    pos = 0
    parts = []
    for m in raw.finditer(page):
        parts += [(False, page[pos:m.start()]), (True, m.group(0))]
        pos = m.end()
    parts.append((False, page[pos:]))
    for verbatim, text in parts:
        if verbatim:
            out.append(text)
            continue
        last = 0
        for m in tag_re.finditer(text):
            name, attrs = m.group(1).lower(), m.group(2)
            found = {a.group(1).lower(): next((v for v in a.group(2, 3, 4) if v is not None), "")
                     for a in attr_re.finditer(attrs)}
            classes = found.get("class", "").split()
            if "jp-Notebook" in classes:
                if name not in ("body", "html"):
                    return None
                inside = True
            extra = ""
            if name == "img" and "alt" not in found:
                extra, missing = f' alt="{ALT_TEXT}"', missing + 1
            elif (name == "div" and inside
                  and {"jp-Cell-inputWrapper", "jp-OutputArea-output"} & set(classes)):
                if "tabindex" in found:
                    return None  # rare (the student's own HTML): the library's way
                extra = ' tabindex="0"'
            if extra:  # first, so that the tag's own attributes read as they did
                out.append(text[last:m.start()] + f"<{m.group(1)}{extra}{attrs}>")
                last = m.end()
        out.append(text[last:])
    return "".join(out), missing


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


def clamp_late_penalty(assigner, notebook, penalty: float) -> float:
    """``penalty`` clamped to 0 <= penalty <= ``notebook.score``, as nbgrader's
    ``AssignLatePenalties`` (``assigner``, whose log gets nbgrader's warning) clamps it."""
    if supported("clamp_late_penalty"):
        return assigner._check_late_penalty(notebook, penalty)
    if penalty < 0:
        return 0
    if penalty > notebook.score:
        return notebook.score
    return penalty


def remove_hidden_test_region(preprocessor, cell) -> bool:
    """Remove the hidden-test regions (between ``preprocessor.begin_test_delimeter`` and
    ``end_test_delimeter``, both lines included) from ``cell.source``, as nbgrader's
    ``ClearHiddenTests`` (``preprocessor``) does; return whether there was one. A nested or unclosed
    region is a ``RuntimeError``."""
    if supported("remove_hidden_test_region"):
        return preprocessor._remove_hidden_test_region(cell)
    begin, end = preprocessor.begin_test_delimeter, preprocessor.end_test_delimeter
    kept, in_test, removed = [], False, False
    for line in cell.source.split("\n"):
        if begin in line:
            if in_test:
                raise RuntimeError("Encountered nested begin hidden tests statements")
            in_test = removed = True
        elif end in line:
            in_test = False
        elif not in_test:
            kept.append(line)
    if in_test:
        raise RuntimeError("No end hidden tests statement found")
    cell.source = "\n".join(kept)
    return removed


def delete_students(gb) -> None:
    """Remove every student from the open nbgrader ``Gradebook`` ``gb``, with their submissions,
    grades and comments; the assignments, notebooks and cells stay."""
    if not supported("delete_students"):
        for student in list(gb.students):
            gb.remove_student(student.id)
        return
    from nbgrader.api import (
        Comment,
        Grade,
        Student,
        SubmittedAssignment,
        SubmittedNotebook,
    )

    for model in (Grade, Comment, SubmittedNotebook, SubmittedAssignment, Student):
        gb.db.query(model).delete(synchronize_session=False)
    gb.db.commit()


def xdist_scope_scheduling(config, log, unit):
    """A pytest-xdist scheduler that keeps the tests of one ``unit(nodeid)`` on one worker and
    sends the units in the order of the collection, or None (xdist's default scheduling) outside
    the versions it was written for."""
    if not supported("xdist_scope_scheduling"):
        return None
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False  # keep the collection's order

    class UnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return unit(nodeid)

    return UnitScheduling(config, log)
