"""The grading fork server's warm start (grader.warm): same feedback, without compiling it again."""

from __future__ import annotations

import jinja2
import pytest
from nbconvert.exporters import HTMLExporter

from grader import warm


@pytest.fixture
def compiles(monkeypatch):
    """Count Jinja template compilations from here on."""
    calls = []
    original = jinja2.Environment.compile

    def counting(self, source, *args, **kwargs):
        calls.append(args[0] if args else kwargs.get("name"))
        return original(self, source, *args, **kwargs)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    return calls


def test_after_warming_a_new_exporter_compiles_no_template(compiles):
    """nbgrader makes a new exporter for every feedback page; once warm, none of them compiles."""
    warm.warm_feedback()
    assert len(warm.CACHE) > 0, "warming must leave the compiled feedback templates in the cache"
    compiles.clear()
    warm.warm_feedback()  # a fresh GenerateFeedback converter and exporter, as per submission
    assert compiles == [], f"templates compiled again despite the shared cache: {compiles}"


def test_without_the_shared_cache_every_exporter_compiles_again(compiles):
    """The control: Jinja's own per-environment cache does not survive a new exporter."""
    warm.warm_feedback()
    warm.CACHE.clear()
    compiles.clear()
    warm.warm_feedback()
    assert compiles, "with an empty cache the feedback templates must be compiled"


def test_an_edited_template_is_compiled_again(tmp_path, compiles):
    """The cache checks the template's source: a changed template never renders stale."""
    warm.install()
    (tmp_path / "t.j2").write_text("one {{ x }}")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(tmp_path),
                             bytecode_cache=warm.CACHE)
    assert env.get_template("t.j2").render(x=1) == "one 1"
    (tmp_path / "t.j2").write_text("two {{ x }}")
    fresh = jinja2.Environment(loader=jinja2.FileSystemLoader(tmp_path),
                               bytecode_cache=warm.CACHE)
    assert fresh.get_template("t.j2").render(x=1) == "two 1"


def test_install_is_idempotent_and_reaches_every_exporter():
    warm.install()
    warm.install()
    assert HTMLExporter().environment.bytecode_cache is warm.CACHE


def test_warming_the_gradebook_leaves_nothing_behind(tmp_path, monkeypatch):
    """The throwaway course lives in a temporary folder that is gone afterwards."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    warm.warm_gradebook()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.filterwarnings("ignore:.*not in session")  # nbgrader's add_submission, harmless
def test_after_warming_a_jobs_gradebook_work_compiles_no_query(tmp_path, monkeypatch):
    """The warm-up grades its sample submission for real (release, autograde without a kernel,
    feedback), and grading another one afterwards, as the next job would, finds every query of
    nbgrader's bookkeeping compiled already."""
    import tempfile

    from grader import patches

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert warm.warm_gradebook() is True
    compiled = len(patches.scratch_engine()._compiled_cache)
    assert compiled >= 10, compiled
    assert warm.warm_gradebook() is True
    assert len(patches.scratch_engine()._compiled_cache) == compiled


def test_warming_prepares_the_kernel_start_without_starting_a_kernel():
    """The provisioner factory, which reads every package's entry points when a process starts
    its first kernel, is made once in the warm-up; no kernel, no thread is left running."""
    import threading

    from jupyter_client.provisioning import KernelProvisionerFactory

    threads = threading.active_count()
    warm.warm_kernel_start()
    assert KernelProvisionerFactory.initialized()
    assert threading.active_count() == threads
