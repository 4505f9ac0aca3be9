"""Run a notebook's answer code in a fresh process and evaluate the hidden probes (sandboxed side).

Reads ``probe-input.json`` from the working folder: ``{"code": [cell sources], "setup": source,
"probes": [{"call": name, "args": [...], "kwargs": {...}}]}``; writes ``probe-output.json``: one
entry per probe, either ``{"value": nested lists of floats}`` or
``{"error": "ExceptionName: message"}``. Only plain JSON crosses the boundary: nothing the student's
code returns is unpickled or executed by the grader.
"""

import contextlib
import io
import json
import math
import signal

# NumPy is imported where a value is converted, on purpose: the probe process runs the student's
# code as a fresh interpreter would, with nothing imported that the answers did not import.


class CellTimeout(BaseException):
    """Raised by the alarm when a cell or probe runs too long (not an Exception: harder to
    swallow)."""


def _alarm(signum, frame):
    raise CellTimeout()


def _plain(value):
    """Numbers as a flat list plus the shape; a tuple of arrays (e.g. (dW, db)) is concatenated."""
    import numpy as np

    if isinstance(value, list) and any(isinstance(v, (list, tuple)) or hasattr(v, "shape")
                                       for v in value):
        try:  # a list of arrays of one shape is an array; of different shapes, a tuple
            np.asarray(value, dtype=float)
        except ValueError:
            value = tuple(value)
    if isinstance(value, tuple):
        parts = [_plain(v) for v in value]
        return [x for flat, _ in parts for x in flat], [shape for _, shape in parts]
    arr = np.asarray(value, dtype=float)
    return [None if not math.isfinite(v) else v for v in arr.ravel().tolist()], list(arr.shape)


def _array(value):
    """JSON lists become float ndarrays, as the assignments' functions expect arrays."""
    import numpy as np

    return np.asarray(value, dtype=float) if isinstance(value, list) else value


def main():
    with open("probe-input.json", encoding="utf-8") as fh:
        spec = json.load(fh)
    namespace = {"__name__": "__main__"}
    results = []
    sink = io.StringIO()
    seconds = float(spec.get("timeout", 30))
    signal.signal(signal.SIGALRM, _alarm)
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        for source in spec["code"]:
            try:
                signal.setitimer(signal.ITIMER_REAL, seconds)
                exec(compile(source, "<answer>", "exec"), namespace)  # noqa: S102 (sandboxed)
            except BaseException as exc:  # noqa: BLE001 - a broken cell must not stop the probes
                if isinstance(exc, SystemExit):
                    break
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            sink.seek(0)
            sink.truncate()
        setup_error = None
        if spec.get("setup"):
            try:  # the instructor's probe helpers, after (and over) whatever the answers defined
                signal.setitimer(signal.ITIMER_REAL, seconds)
                exec(compile(spec["setup"], "<probe setup>", "exec"), namespace)  # noqa: S102
            except BaseException as exc:  # noqa: BLE001 - reported for each probe
                setup_error = f"the probe setup failed: {type(exc).__name__}: {str(exc)[:200]}"
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        for probe in spec["probes"]:
            if setup_error:
                results.append({"error": setup_error})
                continue
            try:
                signal.setitimer(signal.ITIMER_REAL, seconds)
                fn = namespace[probe["call"]]
                args = [_array(a) for a in probe.get("args", [])]
                kwargs = {k: _array(v) for k, v in probe.get("kwargs", {}).items()}
                value, shape = _plain(fn(*args, **kwargs))
                results.append({"value": value, "shape": shape})
            except BaseException as exc:  # noqa: BLE001 - report, never raise
                results.append({"error": f"{type(exc).__name__}: {str(exc)[:200]}"})
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
    with open("probe-output.json", "w", encoding="utf-8") as fh:
        json.dump(results, fh)


if __name__ == "__main__":
    main()
