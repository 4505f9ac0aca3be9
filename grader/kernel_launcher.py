"""Start an IPython kernel inside the grading sandbox (runs as the kernel's own process).

Invoked by the grading kernelspec as ``python -m grader.kernel_launcher <config.json> -f <conn>``,
and by the hidden checks as ``python -m grader.kernel_launcher <config.json> --probe`` (which runs
:mod:`grader.probe_runner` instead of a kernel). :mod:`grader.zygote` runs the same steps
(:func:`enter`) in a process forked from one that has the kernel's modules imported already.

With namespaces (``"namespace": "root"`` when the grader is root, ``"user"`` for an unprivileged
grader with user namespaces; see :func:`grader.sandbox.mode`), :func:`enter`, in order:

1. ``unshare(2)``: new mount, network, PID, IPC and UTS namespaces (and, unprivileged, a user
   namespace that maps the grader's own uid and gid, nothing else);
2. brings up the loopback interface of the new network namespace: the kernel has its own
   127.0.0.1 and no other network. Its connection to the grader (ipc transport: Unix sockets at a
   path) does not go through the network namespace at all;
3. replaces the private folders (``/tmp``, ``/var/tmp``, ``/dev/shm``, the grading run's scratch
   folder, the grader's home, and any closed ancestor of the interpreter) by empty tmpfs mounts into
   which only the interpreter, the course code, the job's working folder and its socket folder are
   bound back; hides the course's private folders (``solutions/``, ``gradebook.db``...);
4. makes every mount read-only except the working folder, the socket folder and the new tmpfs
   ``/tmp``, ``/var/tmp`` and ``/dev/shm``;
5. forks: the child is process 1 of the new PID namespace and mounts its own ``/proc`` (it sees only
   its own processes, and when it ends, everything it started ends with it); the parent stays
   outside, forwards interrupt and termination signals to it and exits with its exit status, so that
   jupyter_client (or the zygote's stub) sees no difference;
6. in the child: resource limits, the worker's uid (root) or no capabilities left (user namespace),
   ``no_new_privs`` (no set-uid program can give rights back), and the parent-death signal.

Without namespaces only the limits (and, as root, the uid) apply. Standard library only, so that
nothing the kernel later imports has run with privileges; and each step imports the modules it
needs inside its function, so that a kernel's ``sys.modules`` holds no more than those steps used.
One file of about 450 lines on purpose: it runs as ``python -m grader.kernel_launcher`` before the
kernel, and must not import the rest of the grader.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import shutil
import signal
import sys
import tempfile

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 0x1000, 0x2000, 0x4000, 0x40000
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x20000, 0x4000000, 0x8000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP, signal.SIGUSR1,
             signal.SIGUSR2)
STAGE = "/dev/shm"  # where bind mounts wait while the folder they belong in is replaced
_LIBC = []
_ALIVE = []  # the read end of the pipe the parent outside holds open (see _become_init)


def _libc():
    import ctypes

    if not _LIBC:
        _LIBC.append(ctypes.CDLL(None, use_errno=True))
    return _LIBC[0]


def _check(ret: int, what: str) -> None:
    if ret != 0:
        import ctypes

        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str, target: str, fstype: str | None = None, flags: int = 0,
           data: str | None = None) -> None:
    """mount(2), as the ``mount`` command would call it, without starting that command."""
    import ctypes

    enc = [None if v is None else os.fsencode(v) for v in (source, target, fstype, data)]
    _check(_libc().mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]),
           f"mount {source} on {target}")


def _unshare(kind: str) -> None:
    """New mount, network, PID, IPC (System V shared memory, message queues) and UTS (host name)
    namespaces; for ``kind == "user"`` a user namespace too, in which the caller's uid and gid are
    mapped to themselves (and nothing else is mapped)."""
    uid, gid = os.geteuid(), os.getegid()
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    flags |= CLONE_NEWUSER if kind == "user" else 0
    _check(_libc().unshare(flags), "unshare")
    if kind == "user":
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"),
                           ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w") as fh:
                fh.write(text)
    _mount("none", "/", flags=MS_REC | MS_PRIVATE)  # mount --make-rprivate /: nothing leaks out


def _loopback_up() -> None:
    """``ip link set lo up`` in the new network namespace, by ioctl(2)."""
    import fcntl
    import socket
    import struct

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        ifreq = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock, siocgifflags, ifreq))[1]
        fcntl.ioctl(sock, siocsifflags, struct.pack("16sH22x", b"lo", flags | iff_up))


def _outermost(paths) -> list[str]:
    paths = sorted(set(paths))
    return [p for p in paths if not any(p.startswith(q + os.sep) for q in paths if q != p)]


def _under(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip(os.sep) + os.sep)


def _closed_ancestor(path: str) -> str | None:
    """The first folder above ``path`` that others may not enter (``/root``), if any."""
    parts = os.path.abspath(path).split(os.sep)[1:]
    for i in range(1, len(parts)):
        ancestor = os.sep + os.path.join(*parts[:i])
        if not os.stat(ancestor).st_mode & 0o001:
            return ancestor
    return None


def _mask(private: list[tuple[str, str]], keep: list[str]) -> None:
    """Replace each folder in ``private`` (path, tmpfs mode) by an empty tmpfs, binding back the
    paths of ``keep`` that live under it. Shallow folders first, so a folder under a kept path is
    still masked."""
    keep = [os.path.realpath(k) for k in keep if os.path.exists(k)]
    done = set()
    for folder, mode in sorted(private, key=lambda fm: fm[0].count(os.sep)):
        folder = os.path.realpath(folder)
        if folder in done or folder == "/" or not os.path.isdir(folder):
            continue
        if folder in keep:
            continue  # kept whole
        done.add(folder)
        inside = _outermost(k for k in keep if _under(k, folder))
        stages = []
        for path in inside:
            # A name of its own: the first stages are made in the machine's STAGE, which every
            # sandbox starting at the same moment shares (one start's rmdir removed another's).
            stage = tempfile.mkdtemp(prefix=".grader-stage-", dir=STAGE)
            _mount(path, stage, flags=MS_BIND | MS_REC)
            stages.append((stage, path))
        size = "256m" if mode == "1777" else "64k"  # the folders a kernel may write, or not
        _mount("none", folder, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode={mode}")
        for stage, path in stages:
            os.makedirs(path, mode=0o755, exist_ok=True)
            _mount(stage, path, flags=MS_MOVE)
            os.rmdir(stage)


def _hide(paths: list[str], tries: int = 5) -> None:
    """Cover each of ``paths``: a folder by an empty tmpfs, a file by ``/dev/null``.

    A private file can be replaced while a kernel starts (another command writing the course
    while the feedback service grades; the grader's own merge once did): a name that is missing at
    the moment of the mount is looked up again, and covered if it is back, skipped if it is gone
    (there is nothing left to hide then).
    """
    for path in paths:
        for attempt in range(tries):
            try:
                if os.path.isdir(path):
                    _mount("none", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755")
                elif os.path.exists(path):
                    _mount("/dev/null", path, flags=MS_BIND)
                break
            except OSError as exc:
                if exc.errno != errno.ENOENT or attempt == tries - 1:
                    raise


def _mount_setattr(path: str, recursive: bool, *, set_rdonly: bool) -> None:
    """mount_setattr(2) (Linux 5.12+): read-only on (or off) for the mount at ``path``."""
    import ctypes
    import struct

    at_fdcwd, at_recursive, mount_attr_rdonly, nr_mount_setattr = -100, 0x8000, 0x1, 442
    attr = struct.pack("QQQQ", mount_attr_rdonly if set_rdonly else 0,
                       0 if set_rdonly else mount_attr_rdonly, 0, 0)
    buf = ctypes.create_string_buffer(attr, len(attr))
    _check(_libc().syscall(ctypes.c_long(nr_mount_setattr), ctypes.c_int(at_fdcwd),
                           ctypes.c_char_p(os.fsencode(path)),
                           ctypes.c_uint(at_recursive if recursive else 0), buf,
                           ctypes.c_size_t(len(attr))), f"mount_setattr {path}")


# Per-mount flags as /proc/self/mountinfo shows them; a remount must repeat them (in a user
# namespace, those the mount came with are locked and a remount without them is refused).
MOUNT_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC, "noatime": 0x400,
               "nodiratime": 0x800, "relatime": 0x200000, "strictatime": 0x1000000}
MS_REMOUNT = 0x20


def _remount(path: str, options: str, rdonly: bool) -> None:
    """``mount -o remount,bind,ro`` (or ``rw``) of the mount at ``path``, keeping its flags."""
    flags = MS_REMOUNT | MS_BIND | (MS_RDONLY if rdonly else 0)
    for option in options.split(","):
        flags |= MOUNT_FLAGS.get(option, 0)
    _mount("none", path, flags=flags)


def _mount_options() -> dict:
    """mount point -> its per-mount options (the last mount at a path is the one seen there)."""
    found = {}
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        for line in fh:
            fields = line.split()
            point = fields[4].encode().decode("unicode_escape")  # \040 for a space
            found[point] = fields[5]
    return found


def _read_only_except(writable: list[str]) -> None:
    """Every mount read-only, then the ``writable`` ones (each its own mount) writable again."""
    writable = [p for p in writable if os.path.isdir(p)]
    for path in writable:
        _mount(path, path, flags=MS_BIND | MS_REC)  # its own mount, to be made writable alone
    try:
        _mount_setattr("/", True, set_rdonly=True)
        for path in writable:
            _mount_setattr(path, False, set_rdonly=False)
    except OSError as exc:
        import errno

        if exc.errno != errno.ENOSYS:
            raise
        _read_only_by_remounts(writable)  # Linux before 5.12: one remount per mount


def _read_only_by_remounts(writable: list[str]) -> None:
    options = _mount_options()
    for point, opts in sorted(options.items()):
        if os.path.isdir(point) or os.path.isfile(point):
            _remount(point, opts, rdonly=True)
    for path in writable:
        _remount(path, options.get(os.path.realpath(path), ""), rdonly=False)


def _private_tmp(keep: list[str]) -> None:
    """Mount an empty ``/tmp``, binding back the paths in ``keep`` that live under it (a course
    cloned into ``/tmp``, a CI checkout say, has its virtual environment and ``nnlib`` there)."""
    _mask([(STAGE, "1777"), ("/tmp", "1777")], keep)


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
    # while they wait for a core inflate the CPU time a test may measure (a timed training test
    # would then score lower on a busy machine).
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    # A kernel that dies of a signal (a crash in C code, say) leaves its Python stack in the job's
    # kernel log, which --keep-work keeps.
    env.update(PYTHONFAULTHANDLER="1")
    return env


def _isolate(kind: str, cfg: dict) -> None:
    """Steps 1-4 of the module's list: namespaces, loopback, masks, read-only mounts."""
    _unshare(kind)
    _loopback_up()
    expose = cfg.get("expose", [])
    writable = [cfg["workdir"], *cfg.get("writable", [])]
    private = [(STAGE, "1777"), ("/tmp", "1777"), ("/var/tmp", "1777")]
    private += [(p, "0755") for p in cfg.get("private", [])]
    private += [(p, "0755") for p in map(_closed_ancestor, expose) if p]
    _mask(private, [*expose, *writable])
    _hide(cfg.get("hide", []))
    _read_only_except([*writable, "/tmp", "/var/tmp", STAGE])
    os.chdir(cfg["workdir"])  # the working folder as mounted now, not the one under the masks


def _drop_privileges() -> None:
    """No capabilities left (they are the user namespace's, without root), and none to regain
    through a set-uid or file-capability program (``no_new_privs``)."""
    import ctypes
    import struct

    pr_set_no_new_privs, linux_capability_version_3 = 38, 0x20080522
    header = ctypes.create_string_buffer(struct.pack("Ii", linux_capability_version_3, 0), 8)
    data = ctypes.create_string_buffer(bytes(24), 24)  # two {effective, permitted, inheritable}
    _check(_libc().capset(header, data), "capset")
    _check(_libc().prctl(pr_set_no_new_privs, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")


def _become_init(cfg_uid: tuple | None = None) -> None:
    """Fork; the child (process 1 of the new PID namespace) returns with its own ``/proc``, the
    parent never returns: it forwards signals to the child and exits as the child does."""
    alive_r, alive_w = os.pipe()  # closed when the parent dies: the child's check for a lost parent
    child = os.fork()
    if child == 0:
        os.close(alive_w)
        os.setsid()  # out of the parent's process group: a signal to the group reaches it once
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        _ALIVE.append(alive_r)  # for _watch_parent, after the uid change
        return
    os.close(alive_r)
    _wait_as_parent(child, cfg_uid)


def _watch_parent() -> None:
    """The parent-death signal: if the process outside dies (jupyter_client killed it), so does
    the kernel and, being process 1, everything in its PID namespace."""
    import select

    pr_set_pdeathsig = 1
    _check(_libc().prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0), "prctl(PDEATHSIG)")
    fd = _ALIVE.pop()
    if select.select([fd], [], [], 0)[0]:  # end of file: the parent died before the prctl
        os._exit(1)
    os.close(fd)


def _wait_as_parent(child: int, cfg_uid: tuple | None) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # it may end by the child's signal
    if cfg_uid is not None:  # root: the parent gives up root too
        os.setgroups([])
        os.setgid(cfg_uid[1])
        os.setuid(cfg_uid[0])
    _drop_privileges()

    def forward(signum, frame):
        # Process 1 of a namespace gets a signal only if it catches it: one it neither catches nor
        # ignores would end any other process (the default action of each forwarded signal), so
        # it gets SIGKILL instead, and jupyter_client's SIGTERM still ends the kernel.
        if not _handles(signum):
            signum = signal.SIGKILL
        try:
            os.kill(child, signum)
        except ProcessLookupError:
            pass

    for signum in FORWARDED:
        signal.signal(signum, forward)
    try:
        _, status = os.waitpid(child, 0)
        code = os.waitstatus_to_exitcode(status)
    except ChildProcessError:
        code = 1
    if code < 0:  # killed by a signal: end the same way, so the caller sees the same status
        if -code != signal.SIGKILL:
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        code = 128 - code
    os._exit(code)


def _handles(signum: int) -> bool:
    """Whether process 1 of the sandbox catches or ignores ``signum`` (the /proc mounted here is
    the sandbox's own, so its process 1 is the child)."""
    try:
        with open("/proc/1/status", encoding="ascii") as fh:
            fields = dict(line.split(":", 1) for line in fh if ":" in line)
        mask = int(fields["SigCgt"], 16) | int(fields["SigIgn"], 16)
    except (OSError, KeyError, ValueError):
        return True
    return bool(mask >> (signum - 1) & 1)


def enter(argv: list[str]) -> tuple[dict, bool]:
    """Put this process into the sandbox that ``argv`` describes; return the environment and mode.

    With namespaces the process forks (see the module's list): only the child, process 1 of the
    sandbox's PID namespace, returns; the parent waits for it outside and never returns.

    Parameters
    ----------
    argv : list of str
        ``[config.json, "-f", connection_file]`` for a kernel, ``[config.json, "--probe"]`` for the
        hidden checks.

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
    kind = cfg.get("namespace")
    uid, gid = cfg.get("uid"), cfg.get("gid")
    root = os.geteuid() == 0
    if root and uid is not None and not probe:
        os.chown(".kernel-connection.json", uid, gid)
    if kind:
        _isolate(kind, cfg)
        _become_init((uid, gid) if root and uid is not None else None)
    _limits(cfg)
    if root and uid is not None:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    if kind:
        _watch_parent()
        _drop_privileges()
    return kernel_env(os.environ), probe


def selftest(kind: str) -> int:
    """Whether :func:`enter`'s namespaces work here: 0 if every step succeeds (run in a throwaway
    process by :func:`grader.sandbox.mode`)."""
    try:
        _isolate(kind, {"workdir": os.getcwd()})
        _become_init()
        _watch_parent()
        _drop_privileges()
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))  # the loopback is up
        return 0 if len([p for p in os.listdir("/proc") if p.isdigit()]) == 1 else 1
    except OSError as exc:
        print(f"sandbox self-test ({kind}): {exc}", file=sys.stderr)
        return 1


def direct_argv(config: str, args: list[str]) -> list[str]:
    """The command that starts a sandboxed kernel (``args`` ``-f CONN``) or probe (``--probe``) of
    ``config`` without a zygote: this module makes the namespaces itself."""
    return [sys.executable, "-m", "grader.kernel_launcher", config, *args]


KERNEL_ARGV = ["-m", "ipykernel_launcher", "-f", ".kernel-connection.json",
               "--HistoryManager.hist_file=:memory:"]
PROBE_ARGV = ["-m", "grader.probe_runner"]


def main(argv: list[str]) -> None:
    if argv[:1] == ["--selftest"]:
        os._exit(selftest(argv[1]))
    env, probe = enter(argv)
    os.execve(sys.executable, [sys.executable] + (PROBE_ARGV if probe else KERNEL_ARGV), env)


if __name__ == "__main__":
    main(sys.argv[1:])
