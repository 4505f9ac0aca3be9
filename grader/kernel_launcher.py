"""Start an IPython kernel inside the grading sandbox (runs as the kernel's own process).

Invoked by the grading kernelspec as ``python -m grader.kernel_launcher <config.json> -f <conn>``,
and by the hidden checks as ``python -m grader.kernel_launcher <config.json> --probe`` (which runs
:mod:`grader.probe_runner` instead of a kernel).
In order, it: hides the course's private folders behind empty tmpfs mounts and gives the kernel a
private ``/tmp`` (when root, in the new mount namespace that ``unshare -m`` made for it); copies the
connection file where the unprivileged user can read it; applies resource limits; drops to the
configured uid/gid; and replaces itself with ``ipykernel_launcher``. Standard library only, so that
nothing the kernel later imports has run with privileges. :mod:`grader.zygote` runs the same steps
(:func:`enter`) in a process forked from one that has the kernel's modules imported already.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys

MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 0x1000, 0x2000, 0x4000, 0x40000
_LIBC = []


def _mount(source: str, target: str, fstype: str | None = None, flags: int = 0,
           data: str | None = None) -> None:
    """mount(2), as the ``mount`` command would call it, without starting that command."""
    import ctypes

    if not _LIBC:
        _LIBC.append(ctypes.CDLL(None, use_errno=True))
    enc = [None if v is None else os.fsencode(v) for v in (source, target, fstype, data)]
    if _LIBC[0].mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} on {target}: {os.strerror(err)}")


def _hide(paths: list[str]) -> None:
    for path in paths:
        if os.path.isdir(path):
            _mount("none", path, "tmpfs", 0, "size=64k,mode=0755")
        elif os.path.exists(path):
            _mount("/dev/null", path, flags=MS_BIND)


def _expose(path: str) -> None:
    """Make ``path`` reachable for the sandbox user when an ancestor (e.g. /root) is closed to it.

    The closed ancestor is replaced, in this mount namespace only, by an empty tmpfs into which
    ``path`` alone is bound again: the interpreter stays usable, the rest of that folder is hidden.
    """
    parts = os.path.abspath(path).split(os.sep)[1:]
    closed = None
    for i in range(1, len(parts)):
        ancestor = os.sep + os.path.join(*parts[:i])
        if not os.stat(ancestor).st_mode & 0o001:
            closed = ancestor
            break
    if closed is None:
        return
    stage = os.path.join("/dev/shm", f"grader-expose-{os.getpid()}")
    os.makedirs(stage, exist_ok=True)
    _mount(path, stage, flags=MS_BIND)
    _mount("none", closed, "tmpfs", 0, "size=64k,mode=0755")
    os.makedirs(path, mode=0o755, exist_ok=True)
    _mount(stage, path, flags=MS_MOVE)


def _private_tmp(keep: list[str]) -> None:
    """Mount an empty ``/tmp``, binding back the paths in ``keep`` that live under it.

    A course cloned into ``/tmp`` (a CI checkout, say) has its virtual environment and ``nnlib``
    there: without them the kernel could not start.
    """
    keep = sorted({os.path.realpath(p) for p in keep
                   if os.path.realpath(p).startswith("/tmp/") and os.path.exists(p)})
    keep = [p for p in keep if not any(p.startswith(q + os.sep) for q in keep)]  # outermost only
    stages = []
    for i, path in enumerate(keep):
        stage = os.path.join("/dev/shm", f"grader-keep-{os.getpid()}-{i}")
        os.makedirs(stage, exist_ok=True)
        _mount(path, stage, flags=MS_BIND)
        stages.append((stage, path))
    _mount("none", "/tmp", "tmpfs", 0, "size=256m,mode=1777")
    for stage, path in stages:
        os.makedirs(path, mode=0o755, exist_ok=True)
        _mount(stage, path, flags=MS_MOVE)
        os.rmdir(stage)


def _limits(cfg: dict) -> None:
    for name, key in (("RLIMIT_AS", "memory_bytes"), ("RLIMIT_CPU", "cpu_seconds"),
                      ("RLIMIT_FSIZE", "file_bytes"), ("RLIMIT_NPROC", "processes"),
                      ("RLIMIT_CORE", "core_bytes")):
        value = cfg.get(key)
        if value is not None:
            resource.setrlimit(getattr(resource, name), (int(value), int(value)))


def kernel_env(environ) -> dict:
    """The grading kernel's environment: the grader's, minus its secrets, plus a scratch home."""
    env = {k: v for k, v in environ.items() if not k.startswith(("JPY_", "GRADER_"))}
    env.update(HOME="/tmp", IPYTHONDIR="/tmp/.ipython", MPLCONFIGDIR="/tmp/.mpl",
               MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
    # One thread per kernel: the workers already use every core, and BLAS/OpenMP threads that spin
    # while they wait for a core inflate the CPU time a test may measure (a timed training test would
    # then score lower on a busy machine).
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    # A kernel that dies of a signal (a crash in C code, say) leaves its Python stack in the job's
    # kernel log, which --keep-work keeps.
    env.update(PYTHONFAULTHANDLER="1")
    return env


def enter(argv: list[str], *, in_namespace: bool = False) -> tuple[dict, bool]:
    """Put this process into the sandbox that ``argv`` describes; return the environment and mode.

    Parameters
    ----------
    argv : list of str
        ``[config.json, "-f", connection_file]`` for a kernel, ``[config.json, "--probe"]`` for the
        hidden checks.
    in_namespace : bool
        Whether this process already has its own mount namespace (started by ``unshare -m``, or
        :mod:`grader.zygote` made one); if not and the config asks for one, one is made here.

    Returns
    -------
    env : dict
        The environment the kernel (or probe) must run with.
    probe : bool
        Whether to run the hidden checks instead of a kernel.
    """
    with open(argv[0], encoding="utf-8") as fh:
        cfg = json.load(fh)
    probe = "--probe" in argv
    if cfg.get("log"):  # the kernel's own chatter goes to the job's log, not the grader's terminal
        fd = os.open(cfg["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    if not probe:
        conn = argv[argv.index("-f") + 1]
        shutil.copyfile(conn, os.path.join(cfg["workdir"], ".kernel-connection.json"))
    os.chdir(cfg["workdir"])  # before /tmp is replaced, in case the work folder lives there
    if os.geteuid() == 0 and cfg.get("namespace"):
        if not in_namespace:
            _unshare_mounts()
        for path in cfg.get("expose", []):
            _expose(path)
        _hide(cfg.get("hide", []))
        _private_tmp(cfg.get("expose", []))
    uid, gid = cfg.get("uid"), cfg.get("gid")
    if os.geteuid() == 0 and uid is not None and not probe:
        os.chown(".kernel-connection.json", uid, gid)
    _limits(cfg)
    if os.geteuid() == 0 and uid is not None:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    return kernel_env(os.environ), probe


def _unshare_mounts() -> None:
    """A mount namespace of this process's own, whose mounts do not propagate back (``unshare -m``)."""
    import ctypes

    clone_newns = 0x00020000
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(clone_newns) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS) failed")
    _mount("none", "/", flags=MS_REC | MS_PRIVATE)  # mount --make-rprivate /


KERNEL_ARGV = ["-m", "ipykernel_launcher", "-f", ".kernel-connection.json",
               "--HistoryManager.hist_file=:memory:"]
PROBE_ARGV = ["-m", "grader.probe_runner"]


def main(argv: list[str]) -> None:
    env, probe = enter(argv, in_namespace=True)  # started by `unshare -m` when it needs one
    os.execve(sys.executable, [sys.executable] + (PROBE_ARGV if probe else KERNEL_ARGV), env)


if __name__ == "__main__":
    main(sys.argv[1:])
