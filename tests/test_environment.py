"""The set-up files agree with each other and with what the README tells people to run."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib

import pytest
from coursekit import REPO
from packaging.requirements import Requirement


def _pyproject():
    with open(REPO / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)


def _normalise(spec: str) -> str:
    req = Requirement(spec)
    return f"{req.name.lower().replace('_', '-')}{''.join(sorted(str(s) for s in req.specifier))}"


def _environment_yml_pip() -> list[str]:
    """The pip requirements of environment.yml (a flat list; parsed without a YAML dependency)."""
    lines = (REPO / "environment.yml").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    indent = len(lines[start + 1]) - len(lines[start + 1].lstrip())
    reqs = []
    for line in lines[start + 1:]:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if len(line) - len(line.lstrip()) < indent:
            break
        reqs.append(stripped.removeprefix("- ").strip())
    return reqs


def test_environment_yml_lists_the_same_packages_as_pyproject():
    project = _pyproject()["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["dev"]
    listed = [r for r in _environment_yml_pip() if not r.startswith("-e")]
    assert sorted(map(_normalise, listed)) == sorted(map(_normalise, wanted)), (
        "environment.yml and pyproject.toml list different packages or versions; "
        f"environment.yml: {sorted(listed)}, pyproject: {sorted(wanted)}")
    assert "-e ." in _environment_yml_pip(), "environment.yml must install the course itself"


def test_environment_yml_pins_python_311():
    env = (REPO / "environment.yml").read_text()
    assert re.search(r"^\s*-\s*python=3\.11\s*$", env, re.MULTILINE)


def test_torch_is_pinned_to_the_local_cpu_build():
    deps = _pyproject()["project"]["dependencies"]
    assert "torch==2.13.0" in deps, "an unpinned torch pulls a multi-GB CUDA build"


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    m = re.search(r"```(?:bash|sh)?\n(?:[^`]*\n)?(make test[^\n]*)\n", readme)
    assert m, "README.md shows the test command in a code block"
    command = m.group(1).split("#")[0].strip()
    assert re.search(rf"^\s*{re.escape(command)}\s*$", ci, re.MULTILINE), (
        f".ci/run must run the README's test command {command!r} on a line of its own")


def test_makefile_targets_the_readme_promises():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    for target in ("lab", "test", "grade", "release", "clean", "lint"):
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), (
            f"Makefile has no '{target}' target")


def test_packages_are_installable():
    packages = _pyproject()["tool"]["setuptools"]["packages"]
    for pkg in packages:
        assert (REPO / pkg / "__init__.py").is_file(), (
            f"pyproject packages {pkg!r}, which is missing")


def _dry_run(*args: str) -> str:
    """What `make -n` would run, with package-lock.json taken as changed (node_modules stale)."""
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    return subprocess.run(["make", "-n", "-W", "package-lock.json", *args], cwd=REPO,
                          capture_output=True, text=True, check=True, timeout=60).stdout


def test_make_installs_the_hubs_proxy_into_the_checkout():
    """README: make test (and e2e, hub) install configurable-http-proxy with npm into node_modules/
    on first use; without npm, test skips the hub tests instead of failing, and hub says why."""
    for target in ("test", "e2e", "hub"):
        assert "npm ci" in _dry_run(target, "NPM=/usr/bin/npm"), f"make {target} must install it"
    assert "npm ci" not in _dry_run("test", "NPM="), "without npm, make test must go on"
    hub = _dry_run("hub", "NPM=")
    assert "npm ci" in hub and "install Node.js and npm" in hub, "make hub needs it: say so"
    assert "npm install -g" not in (REPO / "Makefile").read_text(encoding="utf-8")
