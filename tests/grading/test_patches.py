"""The patches of third-party internals (grader/patches.py): each applies on the installed versions,
and outside the versions it was written for it stays away and the library keeps its own
behaviour."""

from __future__ import annotations

import subprocess
import sys

import pytest

from grader import patches, warm


@pytest.fixture()
def versions(monkeypatch):
    """Pretend other versions are installed: ``versions(nbgrader=(0, 10, 0))``."""
    def pretend(**found):
        for dist, version in found.items():
            monkeypatch.setitem(patches._VERSIONS, dist, version)
    return pretend


@pytest.mark.parametrize("patch", sorted(patches.RANGES))
def test_every_patch_was_written_for_the_installed_version(patch):
    dist, low, high = patches.RANGES[patch]
    assert patches.supported(patch), (
        f"{patch} was written for {dist} {low} to {high}, but {patches.installed_version(dist)} is "
        f"installed: check that the patched internals are unchanged, then widen its range")


def test_versions_are_read_as_numbers():
    assert patches.installed_version("no-such-distribution-here") is None
    version = patches.installed_version("nbgrader")
    assert version and all(isinstance(n, int) for n in version)


def test_rfc3987_syntax_is_blocked_in_every_grader_process():
    code = ("import sys, grader, jsonschema, nbformat\n"
            "print(repr(sys.modules.get('rfc3987_syntax', 'missing')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "None", out.stdout + out.stderr


def test_rfc3987_syntax_is_left_alone_outside_the_range(versions, monkeypatch):
    monkeypatch.delitem(sys.modules, "rfc3987_syntax", raising=False)
    versions(jsonschema=(5, 0, 0))
    assert patches.block_rfc3987_syntax() is False
    assert "rfc3987_syntax" not in sys.modules


def test_unblock_gives_a_fresh_interpreters_view(monkeypatch):
    monkeypatch.setitem(sys.modules, "rfc3987_syntax", None)
    patches.unblock_rfc3987_syntax()
    assert "rfc3987_syntax" not in sys.modules


def test_alembic_head_is_computed_in_process(monkeypatch):
    import nbgrader.api

    monkeypatch.setattr(nbgrader.api, "get_alembic_version", nbgrader.api.get_alembic_version)
    assert patches.in_process_alembic() is True
    patched = nbgrader.api.get_alembic_version
    assert getattr(patched, "_in_process", False)
    assert patches.in_process_alembic() is True and nbgrader.api.get_alembic_version is patched
    head = patched()
    assert isinstance(head, str) and len(head) >= 6, head


def test_alembic_is_left_alone_outside_the_range(versions, monkeypatch):
    import nbgrader.api

    def original():  # a stand-in for nbgrader's own function
        return "head"

    monkeypatch.setattr(nbgrader.api, "get_alembic_version", original)
    versions(nbgrader=(0, 10, 0))
    assert patches.in_process_alembic() is False
    assert nbgrader.api.get_alembic_version is original


def test_every_exporter_shares_the_jinja_cache(monkeypatch):
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter

    monkeypatch.setattr(TemplateExporter, "_create_environment",
                        TemplateExporter._create_environment)
    assert patches.shared_jinja_cache(warm.CACHE) is True
    assert HTMLExporter().environment.bytecode_cache is warm.CACHE


def test_jinja_cache_is_left_alone_outside_the_range(versions, monkeypatch):
    from nbconvert.exporters.templateexporter import TemplateExporter

    original = TemplateExporter._create_environment
    monkeypatch.setattr(TemplateExporter, "_create_environment", original)
    versions(nbconvert=(8, 0))
    assert patches.shared_jinja_cache(warm.CACHE) is False
    assert TemplateExporter._create_environment is original


class _Notebook:
    score = 4.0


def test_ready_flush_is_left_alone_outside_the_range(versions, monkeypatch):
    from jupyter_client.asynchronous.client import AsyncKernelClient

    original = AsyncKernelClient.wait_for_ready
    monkeypatch.setattr(AsyncKernelClient, "wait_for_ready", original)
    versions(jupyter_client=(9, 0))
    assert patches.short_ready_flush() is False
    assert AsyncKernelClient.wait_for_ready is original


def test_a_kernel_is_ready_and_runs_code_after_the_short_flush(monkeypatch):
    """A real kernel started as nbclient does: ready, its start-up messages no part of the first
    cell's output, and the flush's reads of IOPub after the kernel answered cut to READY_FLUSH."""
    import nbformat
    from jupyter_client.asynchronous.client import AsyncKernelClient
    from jupyter_client.channels import AsyncZMQSocketChannel
    from nbclient import NotebookClient

    original = AsyncKernelClient.wait_for_ready
    monkeypatch.setattr(AsyncKernelClient, "wait_for_ready", original)
    timeouts = []
    real_get_msg = AsyncZMQSocketChannel.get_msg

    async def get_msg(self, timeout=None):
        timeouts.append(timeout)
        return await real_get_msg(self, timeout=timeout)

    monkeypatch.setattr(AsyncZMQSocketChannel, "get_msg", get_msg)
    assert patches.short_ready_flush() is True
    patched = AsyncKernelClient.wait_for_ready
    assert patched is not original
    assert patches.short_ready_flush() is True and AsyncKernelClient.wait_for_ready is patched
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
    client = NotebookClient(nb, timeout=60, kernel_name="python3")
    client.execute()
    assert nb.cells[0].outputs == [nbformat.v4.new_output("stream", name="stdout", text="42\n")]
    assert 0.2 in timeouts, "the check that IOPub is connected keeps jupyter_client's timeout"
    assert patches.READY_FLUSH in timeouts, "the flush reads with the short timeout"


@pytest.mark.parametrize("outside", [False, True])
def test_kernel_start_is_timed_only_inside_the_block(versions, monkeypatch, outside):
    """Inside the block each kernel start of a notebook client is timed, by the method it wraps;
    on leaving the methods are the library's again; outside the range nothing is wrapped."""
    from nbclient import NotebookClient

    calls = []
    monkeypatch.setattr(NotebookClient, "start_new_kernel",
                        lambda self, **kw: calls.append(kw) or "started")
    before = NotebookClient.__dict__["start_new_kernel"]
    if outside:
        versions(nbclient=(0, 12))
    with patches.timed_kernel_start([]) as sink:
        assert (NotebookClient.__dict__["start_new_kernel"] is before) == outside
        assert NotebookClient.start_new_kernel(object(), cwd="/x") == "started"
    assert calls == [{"cwd": "/x"}]
    assert NotebookClient.__dict__["start_new_kernel"] is before
    assert len(sink) == (0 if outside else 1) and all(t >= 0 for t in sink)


@pytest.mark.parametrize("outside", [False, True], ids=["nbgrader's", "own"])
def test_late_penalty_is_clamped_to_the_score(versions, monkeypatch, outside):
    from nbgrader.preprocessors import AssignLatePenalties

    assigner = AssignLatePenalties()
    if outside:
        versions(nbgrader=(0, 10, 0))
        monkeypatch.setattr(AssignLatePenalties, "_check_late_penalty", None)  # never called
    clamp = [patches.clamp_late_penalty(assigner, _Notebook(), p) for p in (-1.0, 1.5, 4.0, 9.0)]
    assert clamp == [0, 1.5, 4.0, 4.0], clamp


HIDDEN = ("assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(2) == 4\n### END HIDDEN TESTS\n"
          "print('done')")


@pytest.mark.parametrize("outside", [False, True], ids=["nbgrader's", "own"])
def test_hidden_test_region_is_removed(versions, monkeypatch, outside):
    from nbformat.v4 import new_code_cell
    from nbgrader.preprocessors import ClearHiddenTests

    clear = ClearHiddenTests()
    if outside:
        versions(nbgrader=(0, 10, 0))
        monkeypatch.setattr(ClearHiddenTests, "_remove_hidden_test_region", None)
    cell = new_code_cell(HIDDEN)
    assert patches.remove_hidden_test_region(clear, cell) is True
    assert cell.source == "assert f(1) == 2\nprint('done')"
    plain = new_code_cell("assert f(1) == 2")
    assert patches.remove_hidden_test_region(clear, plain) is False
    assert plain.source == "assert f(1) == 2"
    for broken in ("### BEGIN HIDDEN TESTS\nx", "### BEGIN HIDDEN TESTS\n### BEGIN HIDDEN TESTS"):
        with pytest.raises(RuntimeError):
            patches.remove_hidden_test_region(clear, new_code_cell(broken))


@pytest.mark.filterwarnings("ignore:.*not in session")  # nbgrader's add_submission, harmless
@pytest.mark.parametrize("outside", [False, True], ids=["bulk", "one by one"])
def test_students_are_deleted_and_the_assignment_stays(tmp_path, versions, outside):
    from nbgrader.api import Comment, Grade, Gradebook

    if outside:
        versions(nbgrader=(0, 10, 0))
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gb:
        gb.update_or_create_assignment("quiz")
        gb.update_or_create_notebook("quiz", "quiz")
        gb.update_or_create_grade_cell("test_a", "quiz", "quiz", max_score=2, cell_type="code")
        gb.update_or_create_solution_cell("answer_a", "quiz", "quiz")
        for student in ("alice", "bob"):
            gb.update_or_create_student(student)
            gb.add_submission("quiz", student)
        assert gb.db.query(Grade).count() == 2 and gb.db.query(Comment).count() == 2
        patches.delete_students(gb)
        gb.db.expire_all()
        assert gb.students == [] and gb.find_assignment("quiz").submissions == []
        assert gb.db.query(Grade).count() == 0 and gb.db.query(Comment).count() == 0
        notebook = gb.find_notebook("quiz", "quiz")
        assert [c.name for c in notebook.grade_cells] == ["test_a"]
        assert [c.name for c in notebook.solution_cells] == ["answer_a"]


def test_xdist_scheduling_keeps_a_unit_together(versions):
    from types import SimpleNamespace

    option = SimpleNamespace(loadscopereorder=True)
    config = SimpleNamespace(option=option, getvalue={"tx": ["2*popen"]}.get)
    scheduling = patches.xdist_scope_scheduling(config, None, lambda nodeid: nodeid[:5])
    assert config.option.loadscopereorder is False
    assert scheduling._split_scope("unitA::test_one") == scheduling._split_scope("unitA::test_2")
    versions(**{"pytest-xdist": (4, 0)})
    assert patches.xdist_scope_scheduling(config, None, str) is None


def test_an_ending_kernel_is_checked_for_quickly(monkeypatch):
    """The wait for an ending kernel's process polls every KERNEL_POLL s, whatever interval its
    caller asks for; the kernel's own check decides when it is over."""
    import asyncio

    from jupyter_client.manager import KernelManager

    monkeypatch.setattr(KernelManager, "_async_wait", KernelManager._async_wait)
    assert patches.quick_kernel_wait() is True
    patched = KernelManager._async_wait
    assert patches.quick_kernel_wait() is True and KernelManager._async_wait is patched
    answers, sleeps = [True, True, False], []

    class Manager:
        async def _async_is_alive(self):
            return answers.pop(0)

    async def sleep(seconds):
        sleeps.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    asyncio.run(KernelManager._async_wait(Manager(), pollinterval=0.1))
    assert sleeps == [patches.KERNEL_POLL] * 2 and answers == []


def test_kernel_wait_is_left_alone_outside_the_range(versions, monkeypatch):
    from jupyter_client.manager import KernelManager

    original = KernelManager._async_wait
    monkeypatch.setattr(KernelManager, "_async_wait", original)
    versions(jupyter_client=(9, 0))
    assert patches.quick_kernel_wait() is False
    assert KernelManager._async_wait is original


def _gradebook_with_a_student(db):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}") as gb:
        gb.update_or_create_assignment("quiz")
        gb.update_or_create_student("alice")
        return gb.engine


def test_a_jobs_gradebook_is_opened_through_one_engine_checked_once(tmp_path, monkeypatch):
    """In the block: the first gradebook file under the folder goes through the process's scratch
    engine, its schema checked by the first Gradebook only, no disk sync; what one Gradebook
    commits, the next and a plain SQLite reader see. Another file, and any file after the block,
    gets nbgrader's own Gradebook."""
    import sqlite3

    from nbgrader import api

    checks = []
    create_all = api.Base.metadata.create_all
    monkeypatch.setattr(api.Base.metadata, "create_all",
                        lambda *a, **kw: checks.append(1) or create_all(*a, **kw))
    original_init, original_close = api.Gradebook.__init__, api.Gradebook.close
    job = tmp_path / "job"
    job.mkdir()
    courses = []
    check_course = api.Gradebook.check_course
    monkeypatch.setattr(api.Gradebook, "check_course",
                        lambda self, course_id="default_course", **kw:
                        courses.append(course_id) or check_course(self, course_id, **kw))
    with patches.scratch_gradebooks(job) as applied:
        assert applied is True
        first = _gradebook_with_a_student(job / "gradebook.db")
        assert first is patches.scratch_engine()
        with api.Gradebook(f"sqlite:///{job / 'gradebook.db'}") as gb:
            assert gb.engine is first and len(checks) == 1
            assert courses == ["default_course"], "the course is checked by the first one only"
            assert [s.id for s in gb.students] == ["alice"]
            gb.update_or_create_student("bob")
            with gb.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 0
        with api.Gradebook(f"sqlite:///{job / 'gradebook.db'}", course_id="other") as gb:
            assert courses[-1] == "other", "a course id not seen yet is checked (and added)"
            assert sorted(c.id for c in gb.db.query(api.Course)) == ["default_course", "other"]
        with patches.scratch_gradebooks(tmp_path) as nested:
            assert nested is False
        other = _gradebook_with_a_student(job / "other.db")
        assert other is not first and len(checks) == 2
        elsewhere = _gradebook_with_a_student(tmp_path / "course.db")
        assert elsewhere is not first and len(checks) == 3
    assert (api.Gradebook.__init__, api.Gradebook.close) == (original_init, original_close)
    assert _gradebook_with_a_student(job / "gradebook.db") is not first
    with sqlite3.connect(job / "gradebook.db") as conn:
        assert sorted(r[0] for r in conn.execute("SELECT id FROM student")) == ["alice", "bob"]


def test_the_scratch_engine_serves_each_job_its_own_file(tmp_path):
    """The engine outlives a block with its compiled queries, and the next block's gradebook is
    the next job's file, never the last one's."""
    from nbgrader import api

    names = {}
    for job, student in (("job-1", "alice"), ("job-2", "bob")):
        (tmp_path / job).mkdir()
        with patches.scratch_gradebooks(tmp_path / job):
            with api.Gradebook(f"sqlite:///{tmp_path / job / 'gradebook.db'}") as gb:
                gb.update_or_create_student(student)
            with api.Gradebook(f"sqlite:///{tmp_path / job / 'gradebook.db'}") as gb:
                names[job] = [s.id for s in gb.students]
                compiled = len(gb.engine._compiled_cache)
    assert names == {"job-1": ["alice"], "job-2": ["bob"]}
    assert compiled > 0
    with pytest.raises(Exception, match="outside scratch_gradebooks"):
        with patches.scratch_engine().connect():
            pass


def test_scratch_gradebooks_are_left_alone_outside_the_range(tmp_path, versions):
    from nbgrader import api

    versions(nbgrader=(0, 10, 0))
    original = api.Gradebook.__init__
    with patches.scratch_gradebooks(tmp_path) as applied:
        assert applied is False and api.Gradebook.__init__ is original
        first = _gradebook_with_a_student(tmp_path / "gradebook.db")
        assert _gradebook_with_a_student(tmp_path / "gradebook.db") is not first


def _graded_cell(**metadata):
    from nbformat.v4 import new_code_cell

    nbgrader = {"grade": True, "solution": False, "locked": True, "grade_id": "test_a",
                "points": 1, "schema_version": 3, **metadata}
    return new_code_cell("assert True", metadata={"nbgrader": nbgrader})


def test_cell_metadata_is_checked_with_one_validator(monkeypatch):
    """nbgrader's check of a cell's metadata passes and fails as jsonschema.validate does, with the
    schema checked once for any number of cells."""
    import jsonschema
    from nbgrader.nbgraderformat import MetadataValidator, common

    monkeypatch.setattr(common, "jsonschema", jsonschema)
    assert patches.cached_metadata_schema() is True
    assert patches.cached_metadata_schema() is True
    good, bad = [_graded_cell() for _ in range(3)], _graded_cell(points="one")
    cls = jsonschema.validators.validator_for(MetadataValidator().schema)
    check_schema, checked = cls.check_schema, []
    monkeypatch.setattr(cls, "check_schema", classmethod(
        lambda c, schema, *a, **kw: checked.append(1) or check_schema(schema, *a, **kw)))
    for cell in good:
        MetadataValidator().validate_cell(cell)
    with pytest.raises(jsonschema.ValidationError) as caught:
        MetadataValidator().validate_cell(bad)
    monkeypatch.setattr(common, "jsonschema", jsonschema)
    with pytest.raises(jsonschema.ValidationError) as expected:
        MetadataValidator().validate_cell(bad)
    assert str(caught.value) == str(expected.value)
    assert len(checked) == 2  # once for the 4 cells patched, once by jsonschema.validate


def test_metadata_schema_is_left_alone_outside_the_range(versions, monkeypatch):
    import jsonschema
    from nbgrader.nbgraderformat import common

    monkeypatch.setattr(common, "jsonschema", jsonschema)
    versions(nbgrader=(0, 10, 0))
    assert patches.cached_metadata_schema() is False
    assert common.jsonschema is jsonschema


def test_a_kernel_clients_sockets_try_to_connect_quickly(monkeypatch):
    """Each socket of a new asynchronous kernel client tries again every RECONNECT_INTERVAL ms
    (ZeroMQ's default is 100) when the kernel has not bound its end yet."""
    import zmq
    from jupyter_client.asynchronous.client import AsyncKernelClient

    monkeypatch.setattr(AsyncKernelClient, "_context_default",
                        AsyncKernelClient.__dict__["_context_default"])
    assert patches.quick_kernel_connect() is True
    patched = AsyncKernelClient.__dict__["_context_default"]
    assert patches.quick_kernel_connect() is True
    assert AsyncKernelClient.__dict__["_context_default"] is patched
    client = AsyncKernelClient(transport="ipc", ip="/nonexistent/kernel")
    with client.connect_shell() as sock:
        assert sock.getsockopt(zmq.RECONNECT_IVL) == patches.RECONNECT_INTERVAL
    client.context.destroy(linger=0)


def test_kernel_connect_is_left_alone_outside_the_range(versions, monkeypatch):
    from jupyter_client.asynchronous.client import AsyncKernelClient

    original = AsyncKernelClient.__dict__["_context_default"]
    monkeypatch.setattr(AsyncKernelClient, "_context_default", original)
    versions(jupyter_client=(9, 0))
    assert patches.quick_kernel_connect() is False
    assert AsyncKernelClient.__dict__["_context_default"] is original


def _tricky_notebook():
    """A notebook whose page holds every kind of tag the accessibility pass looks at, and
    look-alikes it must leave alone."""
    import base64

    from nbformat import v4

    png = base64.b64encode(bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")).decode()
    code = v4.new_code_cell("x = 1  # <img src='not-a-tag'>\nprint(x)", outputs=[
        v4.new_output("stream", name="stdout", text="<div class=\"jp-OutputArea-output\">\n"),
        v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"}),
        v4.new_output("display_data", data={"text/html": (
            "<img src=\"a.png\"><img src='b.png' alt='kept'><img src=c.png/>"
            "<div title=\"a>b\" class='jp-OutputArea-output extra'>html</div>"
            "<IMG SRC=\"d.png\"><img data-alt=\"x\" src=\"e.png\">"
            "<script>var s = '<img src=x>';</script><!-- <img src=y> -->"
            "<textarea><img src=z></textarea>")}),
        v4.new_output("error", ename="ValueError", evalue="bad <img>",
                      traceback=["\x1b[31mValueError\x1b[0m: bad <img>"]),
    ])
    return v4.new_notebook(cells=[
        v4.new_markdown_cell("# Title\n\n<img src=\"m.png\"> and `<img src=q>` in code"),
        code, v4.new_raw_cell("<img src=raw.png>")],
        metadata={"language_info": {"name": "python"}})


@pytest.mark.parametrize("template", ["lab", "classic"])
def test_the_quick_accessibility_pass_gives_nbconvert_s_page(template):
    """The HTML exporter with the patch gives the page nbconvert gives without it: the same tree,
    every image without alt text given the default one, every input and output area of the
    notebook a tabindex, and nothing changed inside scripts, comments, text areas or text."""
    from bs4 import BeautifulSoup
    from nbconvert.exporters import html

    assert patches.quick_html_accessibility() is True
    assert patches.quick_html_accessibility() is True  # idempotent
    patched = html.HTMLExporter.from_notebook_node
    original = patched._grader_original
    exporter = html.HTMLExporter(template_name=template)
    nb = _tricky_notebook()
    theirs, _ = original(exporter, nb)
    ours, _ = patched(exporter, nb)
    assert BeautifulSoup(ours, "html.parser") == BeautifulSoup(theirs, "html.parser")
    soup = BeautifulSoup(ours, "html.parser")
    assert soup.select("img") and all(img.has_attr("alt") for img in soup.select("img"))
    assert "var s = '<img src=x>';" in ours and "<!-- <img src=y> -->" in ours
    if template == "lab":
        areas = soup.select(".jp-Notebook div.jp-OutputArea-output")
        assert len(areas) >= 4 and all(a.get("tabindex") == "0" for a in areas)


def test_the_quick_accessibility_pass_leaves_what_it_cannot_tell_to_nbconvert():
    """A page where the tags alone cannot tell what is inside the notebook's element (another
    element of class jp-Notebook), or where a tabindex is there already, goes nbconvert's way."""
    assert patches.accessible_html('<body class="jp-Notebook"><div class="jp-Notebook">'
                                   '<div class="jp-OutputArea-output"></div></div></body>') is None
    assert patches.accessible_html('<body class="jp-Notebook"><div tabindex="-1" '
                                   'class="jp-Cell-inputWrapper"></div></body>') is None
    page, missing = patches.accessible_html('<body class="jp-Notebook"><img src="a.png"/>'
                                            '<div class="jp-Cell-inputWrapper"></div></body>')
    assert missing == 1 and 'alt="No description' in page and 'tabindex="0"' in page
