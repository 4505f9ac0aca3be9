"""Run a notebook's answer code in a fresh process and evaluate the hidden probes (sandboxed side).

Reads ``probe-input.json`` from the working folder: ``{"code": [cell sources], "probes": [{"call":
name, "args": [...], "kwargs": {...}}]}``; writes ``probe-output.json``: one entry per probe, either
``{"value": nested lists of floats}`` or ``{"error": "ExceptionName: message"}``. Only plain JSON
crosses the boundary: nothing the student's code returns is unpickled or executed by the grader.
"""

import contextlib
import io
import json
import math


def _plain(value):
    import numpy as np

    arr = np.asarray(value, dtype=float)
    return [None if not math.isfinite(v) else v for v in arr.ravel().tolist()], list(arr.shape)


def main():
    with open("probe-input.json", encoding="utf-8") as fh:
        spec = json.load(fh)
    namespace = {"__name__": "__main__"}
    results = []
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        for source in spec["code"]:
            try:
                exec(compile(source, "<answer>", "exec"), namespace)  # noqa: S102 (sandboxed)
            except BaseException as exc:  # a broken cell must not stop the probes
                if isinstance(exc, (SystemExit, KeyboardInterrupt)):
                    break
        for probe in spec["probes"]:
            try:
                fn = namespace[probe["call"]]
                value, shape = _plain(fn(*probe.get("args", []), **probe.get("kwargs", {})))
                results.append({"value": value, "shape": shape})
            except BaseException as exc:  # report, never raise
                results.append({"error": f"{type(exc).__name__}: {str(exc)[:200]}"})
    with open("probe-output.json", "w", encoding="utf-8") as fh:
        json.dump(results, fh)


if __name__ == "__main__":
    main()
