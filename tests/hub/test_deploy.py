"""deploy/ for Kubernetes, checked as far as a machine without a cluster can: the Helm values use
only keys of Zero to JupyterHub's values schema (deploy/z2jh-values-keys.txt, from the chart), the
hub code in them does what deploy/README.md says, and the manifests and the image agree with
them."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import types
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


def allowed_keys() -> set[str]:
    lines = (DEPLOY / "z2jh-values-keys.txt").read_text(encoding="utf-8").splitlines()
    return {line for line in lines if line and not line.startswith("#")}


def key_paths(node, path=()):
    """Every key path of a nested mapping (lists are values, not keys: the schema types them)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*path, str(key))
            yield from key_paths(value, (*path, str(key)))


def unknown_keys(values: dict, allowed: set[str]) -> list[str]:
    bad = []
    for path in key_paths(values):
        for i in range(1, len(path) + 1):
            prefix = ".".join(path[:i])
            if ".".join(path[:i - 1] + ("*",)) in allowed and prefix not in allowed:
                break  # free-form below path[:i-1]
            if prefix not in allowed:
                bad.append(prefix)
                break
    return sorted(set(bad))


@pytest.fixture(scope="module")
def values():
    return yaml.safe_load((DEPLOY / "values.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def manifests():
    return list(yaml.safe_load_all((DEPLOY / "course.yaml").read_text(encoding="utf-8")))


def test_key_list_comes_from_the_chart_schema():
    keys = allowed_keys()
    assert len(keys) > 400  # the whole schema, not just the keys the values use
    for key in ("hub.config.*", "hub.services.*", "singleuser.storage.extraVolumes",
                "singleuser.image.name", "cull.timeout"):
        assert key in keys


def test_values_use_only_keys_of_the_chart(values):
    assert isinstance(values, dict) and {"hub", "singleuser"} <= set(values)
    assert unknown_keys(values, allowed_keys()) == []


def test_the_key_check_rejects_a_misspelt_key(values):
    broken = yaml.safe_load(yaml.safe_dump(values))
    broken["singleuser"]["storge"] = broken["singleuser"].pop("storage")
    broken["hub"]["config"]["Anything"] = {"goes": True}  # hub.config is free-form in the schema
    assert unknown_keys(broken, allowed_keys()) == ["singleuser.storge"]


class FakeSpawner:
    def __init__(self, uid, groups):
        self.user = types.SimpleNamespace(id=uid, groups=[types.SimpleNamespace(name=g)
                                                          for g in groups])
        self.environment = {}
        self.volumes = [{"name": "home"}]
        self.volume_mounts = {"home": {"name": "home", "mountPath": "/home/jovyan"}}
        self.supplemental_gids = []


def test_hub_code_gives_uids_and_the_course_to_instructors_only(values):
    c = types.SimpleNamespace(JupyterHub=types.SimpleNamespace(),
                              KubeSpawner=types.SimpleNamespace())
    for code in values["hub"]["extraConfig"].values():
        exec(compile(code, "extraConfig", "exec"), {"c": c})  # noqa: S102 (the hub does the same)
    assert "formgrade-ann-course" in c.JupyterHub.load_groups
    hook = c.KubeSpawner.pre_spawn_hook
    student, other, teacher = FakeSpawner(7, []), FakeSpawner(8, []), FakeSpawner(9, [
        "formgrade-ann-course"])
    for s in (student, other, teacher):
        hook(s)
    assert len({student.uid, other.uid, teacher.uid}) == 3 and student.uid >= 20000
    assert student.supplemental_gids == [] and "JUPYTER_CONFIG_PATH" not in student.environment
    assert len(student.volumes) == 1 and list(student.volume_mounts) == ["home"]
    assert teacher.supplemental_gids == [2000]
    assert teacher.environment["JUPYTER_CONFIG_PATH"].endswith("/roles/instructor")
    assert teacher.volumes[-1]["persistentVolumeClaim"]["claimName"] == "ann-course-folder"
    assert teacher.volume_mounts["course"]["mountPath"] == "/srv/ann-course/course"


def test_manifests_define_what_the_values_refer_to(values, manifests):
    kinds = {(m["kind"], m["metadata"]["name"]) for m in manifests}
    claims = {name for kind, name in kinds if kind == "PersistentVolumeClaim"}
    for m in manifests:
        if m["kind"] == "PersistentVolumeClaim":
            assert m["spec"]["accessModes"] == ["ReadWriteMany"]  # shared by many pods
    used = {v["persistentVolumeClaim"]["claimName"]
            for v in values["singleuser"]["storage"]["extraVolumes"]}
    if "ann-course-folder" in str(values["hub"]["extraConfig"]):
        used.add("ann-course-folder")
    assert used <= claims and used
    url = values["hub"]["services"]["ann-course"]["url"]
    assert url == "http://ann-course-formgrader:9999"
    assert ("Service", "ann-course-formgrader") in kinds
    deployment = next(m for m in manifests if m["kind"] == "Deployment")
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["JUPYTERHUB_SERVICE_NAME"]["value"] == "ann-course"
    assert env["JUPYTERHUB_API_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == \
        "hub.services.ann-course.apiToken"


def test_image_paths_exist_in_what_setup_hub_builds(values, tmp_path):
    """The image runs `setup_hub.py --files-only --prefix /opt/ann-course`: values' paths exist."""
    prefix = tmp_path / "opt"
    subprocess.run([sys.executable, str(REPO / "hub" / "setup_hub.py"), "--files-only",
                    "--prefix", str(prefix), "--python", sys.executable,
                    "--site-packages", sysconfig.get_paths()["purelib"]],
                   check=True, capture_output=True, text=True, timeout=300)
    su = values["singleuser"]
    paths = [su["cmd"], su["extraEnv"]["JUPYTER_CONFIG_PATH"], su["extraEnv"]["ANN_LECTURES"],
             "/opt/ann-course/etc/roles/instructor", "/opt/ann-course/etc/roles/grader"]
    for p in paths:
        assert (prefix / Path(p).relative_to("/opt/ann-course")).exists(), p
    assert "ann-course" in (prefix / "venv" / "etc" / "jupyter" / "nbgrader_config.py").read_text()
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "setup_hub.py --files-only --prefix /opt/ann-course" in dockerfile
    assert "COPY --from=build /opt/ann-course /opt/ann-course" in dockerfile
