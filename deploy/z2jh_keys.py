"""The key paths of Zero to JupyterHub's values schema, one a line, for tests/hub/test_deploy.py.

    python deploy/z2jh_keys.py path/to/jupyterhub/values.schema.yaml "<chart version/commit>" \
        > deploy/z2jh-values-keys.txt

A path ``a.b.*`` means that the chart's schema accepts any key below ``a.b`` (free-form settings such
as ``hub.config`` or ``hub.extraConfig``). Only the key list is kept in the repository, not the
chart's schema itself; regenerate it when moving to a new chart version.
"""

from __future__ import annotations

import sys

import yaml


def key_paths(schema: dict) -> list[str]:
    paths: list[str] = []

    def walk(node, path):
        if not isinstance(node, dict):
            return
        props = node.get("properties") or {}
        for key, sub in props.items():
            paths.append(".".join([*path, key]))
            walk(sub, [*path, key])
        extra = node.get("additionalProperties")
        if extra not in (None, False) or node.get("patternProperties") or (
                not props and node.get("type") == "object"):
            paths.append(".".join([*path, "*"]))
            if isinstance(extra, dict):
                walk(extra, [*path, "*"])

    walk(schema, [])
    return sorted(set(paths))


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        raise SystemExit(__doc__)
    with open(argv[1], encoding="utf-8") as fh:
        schema = yaml.safe_load(fh)
    print(f"# Zero to JupyterHub values.schema.yaml key paths ({argv[2]}); see deploy/z2jh_keys.py")
    print("\n".join(key_paths(schema)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
