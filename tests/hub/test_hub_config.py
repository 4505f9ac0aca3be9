"""hub/jupyterhub_config.py as JupyterHub loads it, without starting anything (no root needed):
which services the hub gets, and how the admin turns the feedback service off."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
from traitlets.config import Config

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "hub" / "jupyterhub_config.py"
SERVICE = "ann-course-feedback"


@pytest.fixture
def load(tmp_path, monkeypatch):
    """``load(**hub_json)``: the hub's config for a hub.json with these settings changed."""

    def load_config(**changes) -> Config:
        settings = {
            "course_id": "ann-course", "prefix": str(tmp_path / "opt"),
            "venv": str(tmp_path / "opt" / "venv"), "course_dir": str(tmp_path / "course"),
            "exchange": str(tmp_path / "exchange"), "state_dir": str(tmp_path / "hub"),
            "home_base": str(tmp_path / "home"),
            # Groups that do not exist: no users, which the config allows.
            "instructors_group": "anntest-none-ins", "students_group": "anntest-none-stu",
            "grader_user": "grader-ann-course", "feedback_service": True, **changes}
        settings = {k: v for k, v in settings.items() if v is not None}
        (tmp_path / "hub.json").write_text(json.dumps(settings))
        monkeypatch.setenv("ANN_HUB_SETTINGS", str(tmp_path / "hub.json"))
        monkeypatch.setenv("ANN_HUB_PROXY", sys.executable)  # any file: nothing is started
        cfg = Config()
        runpy.run_path(str(CONFIG), init_globals={"get_config": lambda: cfg})
        return cfg

    return load_config


def services(cfg: Config) -> dict:
    return {s["name"]: s for s in cfg.JupyterHub.services}


def test_the_feedback_service_runs_by_default_as_the_grader_in_the_course(load, tmp_path,
                                                                         monkeypatch):
    monkeypatch.delenv("ANN_HUB_FEEDBACK", raising=False)
    for cfg in (load(), load(feedback_service=None)):  # a hub.json of before the setting: on
        found = services(cfg)
        assert set(found) == {"ann-course", SERVICE}
        svc = found[SERVICE]
        assert "url" not in svc  # managed, no URL: no route in the proxy, nobody can open it
        assert svc["user"] == "grader-ann-course"
        assert svc["cwd"] == str(tmp_path / "course")
        venv = tmp_path / "opt" / "venv"
        assert svc["command"][-8:] == [f"{venv}/bin/python", "-m", "grader", "serve",
                                       "--course", str(tmp_path / "course"),
                                       "--exchange", str(tmp_path / "exchange")]
        env = svc["environment"]
        assert env["PATH"].startswith(f"{venv}/bin:")
        assert env["JUPYTER_CONFIG_PATH"] == str(tmp_path / "opt" / "etc" / "roles" / "grader")
        assert env["ANN_UMASK"] == "0007"
        assert env["PYTHONDONTWRITEBYTECODE"] == "1"  # it imports the course folder's grader/


def test_the_service_command_applies_the_umask(load, monkeypatch):
    """The command's shell part sets ANN_UMASK, then becomes the grader (here: a shell that
    prints its umask)."""
    monkeypatch.delenv("ANN_HUB_FEEDBACK", raising=False)
    svc = services(load())[SERVICE]
    wrapper = svc["command"][:svc["command"].index("-m") - 1]
    out = subprocess.run([*wrapper, "/bin/sh", "-c", "umask"], capture_output=True, text=True,
                         env={"ANN_UMASK": svc["environment"]["ANN_UMASK"]}, check=True)
    assert out.stdout.strip() == "0007"


@pytest.mark.parametrize(("in_hub_json", "env", "on"), [
    (False, None, False),  # hub/setup_hub.py --no-feedback-service
    (True, "off", False),
    (True, "OFF", False),
    (False, "on", True),
    (True, "", True),
])
def test_the_admin_turns_the_service_off(load, monkeypatch, in_hub_json, env, on):
    if env is None:
        monkeypatch.delenv("ANN_HUB_FEEDBACK", raising=False)
    else:
        monkeypatch.setenv("ANN_HUB_FEEDBACK", env)
    found = services(load(feedback_service=in_hub_json))
    assert (SERVICE in found) == on
    assert "ann-course" in found  # the formgrader stays either way


def test_a_wrong_switch_is_refused_with_its_name(load, monkeypatch):
    monkeypatch.setenv("ANN_HUB_FEEDBACK", "maybe")
    with pytest.raises(SystemExit, match="ANN_HUB_FEEDBACK='maybe': expected on or off"):
        load()
