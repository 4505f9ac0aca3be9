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
