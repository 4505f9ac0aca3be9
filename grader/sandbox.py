"""The grading kernel: a kernelspec whose process is limited, unprivileged and cut off.

:func:`prepare` writes, for one grading job, a kernelspec directory (put it on ``JUPYTER_PATH``)
whose kernel runs :mod:`grader.kernel_launcher` with the job's limits. What the sandbox gives
depends on the grader's rights, as :func:`mode` finds them out (by trying) and says in one line:

- always: resource limits (address space, CPU seconds, file size, processes, no core files), a
  working directory that is a scratch copy of the one submission, and a private HOME/IPython dir;
- with namespaces (as root, or unprivileged where user namespaces are allowed): its own mount,
  network and PID namespaces: only its own loopback, only its own processes, the course's private
  folders, the grading run's other jobs and the grader's home hidden, every other mount read-only;
- as root, in addition: a separate uid per worker (no account needed). Unprivileged, the kernel
  keeps the grader's uid (in a user namespace that maps only it, with no capabilities left).

Worker slots are leased (:func:`lease_slots`): two grading runs on one machine (``make grade`` while
the formgrader autogrades, two test workers) never share a uid, so one run's :func:`kill_uid` can
never end the other's kernels.

:func:`kill_uid` ends every process left by a job's uid, so nothing a notebook started survives it.
"""

from __future__ import annotations

import fcntl
import json
import os
import pwd
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from urllib.parse import unquote

import psutil

from . import kernel_launcher
from .course import Course
from .kernel_launcher import direct_argv

KERNEL_NAME = "grader-sandbox"
# grader/zygote.py, run as a script by the kernelspec: its stub needs neither site-packages nor the
# grader package, and starts faster without them (see grader.zygote)
ZYGOTE_SCRIPT = str(Path(__file__).with_name("zygote.py"))


def _code_roots() -> list[str]:
    """Where the kernel imports nnlib and grader from: the folder of this package, and the project
    folder the environment installed (an editable install records it in ``direct_url.json``; the two
    differ when the grader runs from a copy of the course)."""
    roots = {str(Path(__file__).resolve().parents[1])}
    try:
        info = json.loads(distribution("ann-course").read_text("direct_url.json") or "{}")
        url = info.get("url", "")
        if info.get("dir_info", {}).get("editable") and url.startswith("file://"):
            roots.add(os.path.realpath(unquote(url[len("file://"):])))
    except (PackageNotFoundError, ValueError, OSError):
        pass
    return sorted(roots)


# Where nnlib and grader live: the kernel imports from here.
CODE_ROOTS = _code_roots()


def _code_roots_private() -> list[str]:
    """The private folders of the course checkouts in CODE_ROOTS: their hidden tests stay hidden
    even when the course being graded is another copy."""

    return [str(p) for root in CODE_ROOTS for p in Course(Path(root)).private_paths()]
BASE_UID = 61000
NOGROUP = 65534


@dataclass
class Limits:
    """Resource limits of one grading kernel."""

    memory_bytes: int = 4 * 1024**3
    cpu_seconds: int = 300
    file_bytes: int = 64 * 1024**2
    processes: int = 64
    core_bytes: int = 0


@dataclass(frozen=True)
class Slot:
    """One worker slot of a grading run: what every sandboxed process started in it shares.

    ``number`` is a slot leased by :func:`lease_slots` (as root, its kernels run as their own uid,
    :attr:`uid`); ``limits`` and ``timeout`` (seconds per cell and per hidden check) bound each
    process; ``zygote`` is the socket of a running :mod:`grader.zygote` to fork kernels from (None:
    they start the direct way); ``hide`` lists what the kernels see empty (the course's private
    folders, the job's own submission and gradebook).
    """

    number: int
    limits: Limits = field(default_factory=Limits)
    timeout: float = 60
    zygote: str | None = None
    hide: tuple[str, ...] = ()

    @property
    def uid(self) -> int | None:
        """The uid its kernels run as (root only), see :func:`uid_for_worker`."""
        return uid_for_worker(self.number)

    def hiding(self, paths) -> Slot:
        """The same slot, with ``paths`` hidden too."""
        return replace(self, hide=(*self.hide, *(str(p) for p in paths)))

    def kill(self) -> int:
        """End every process of this slot's uid (as root; nothing to do otherwise)."""
        return kill_uid(self.uid)

    def argv(self, cfg_path: Path, args: list[str]) -> list[str]:
        """The command that starts a sandboxed kernel (``args`` ``-f CONN``) or probe (``--probe``)
        of ``cfg_path`` (see :func:`prepare`): a fork of the zygote, or the direct way."""
        if self.zygote:  # the stub (grader.zygote): standard library only, so -I -S
            return [sys.executable, "-I", "-S", ZYGOTE_SCRIPT, "kernel", self.zygote, str(cfg_path),
                    *args]

        return direct_argv(str(cfg_path), args)


@dataclass
class SandboxConfig:
    workdir: str
    uid: int | None
    gid: int | None
    namespace: str | None  # "root", "user" (a user namespace) or None (see mode())
    hide: list = field(default_factory=list)
    expose: list = field(default_factory=list)
    private: list = field(default_factory=list)  # seen empty, but for expose and writable
    writable: list = field(default_factory=list)  # besides workdir: the kernel's socket folder
    limits: Limits = field(default_factory=Limits)
    log: str = ""

    def as_json(self) -> dict:
        data = asdict(self)
        data.update(data.pop("limits"))
        return data


def is_root() -> bool:
    return os.geteuid() == 0


MODE_ENV = "GRADER_SANDBOX_MODE"  # "uid:mode", the answer of mode(), for the grader's workers
MODES = {
    "root": None,
    "user namespaces": None,
    "root without namespaces": (
        "WARNING: running as root but namespaces cannot be created here (unshare(2) refused): "
        "grading kernels run as their own uid with resource limits, but they can open network "
        "connections, see the processes of the machine, and read every world-readable file, "
        "including the course's hidden tests if solutions/ is world-readable."),
    "none": (
        "WARNING: not root and unprivileged user namespaces are not available here: grading "
        "kernels run as this user with only resource limits; they can read the hidden tests "
        "(solutions/), gradebook.db and other students' work, open network connections, and see "
        "and signal this user's processes. Grade as root, or allow user namespaces "
        "(sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0)."),
}


def _namespaces_work(kind: str) -> bool:
    """Run :func:`grader.kernel_launcher.selftest` (every step the kernels take) in a throwaway
    process."""

    with tempfile.TemporaryDirectory(prefix="grader-selftest-") as tmp:
        try:
            proc = subprocess.run([sys.executable, "-I", "-S", kernel_launcher.__file__,
                                   "--selftest", kind], cwd=tmp, check=False,
                                  capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired):
            return False
    return proc.returncode == 0


def mode() -> tuple[str, str | None]:
    """How grading kernels are isolated on this machine, and the warning to print, if any.

    Returns
    -------
    name : str
        ``"root"`` (namespaces and a uid per worker), ``"user namespaces"`` (unprivileged grader,
        namespaces through a user namespace), ``"root without namespaces"`` or ``"none"``.
    warning : str or None
        One line saying what is not protected (``None`` when namespaces work), for the start of a
        grading run.

    The answer is found by trying (a throwaway process takes every step a kernel takes) and kept in
    the environment (``GRADER_SANDBOX_MODE``), so the grader's workers inherit it.
    """
    uid, _, name = os.environ.get(MODE_ENV, "").partition(":")
    if name not in MODES or uid != str(os.geteuid()):  # not found out yet, or by another user
        if is_root():
            name = "root" if _namespaces_work("root") else "root without namespaces"
        else:
            name = "user namespaces" if _namespaces_work("user") else "none"
        os.environ[MODE_ENV] = f"{os.geteuid()}:{name}"
    return name, MODES[name]


def _namespace_kind() -> str | None:
    """The ``namespace`` entry of the kernel's configuration (see grader.kernel_launcher)."""
    return {"root": "root", "user namespaces": "user"}.get(mode()[0])


SLOT_COUNT = 1024  # uids BASE_UID .. BASE_UID + SLOT_COUNT - 1
LOCK_DIR = Path("/var/tmp/grader-uid-locks")


@contextmanager
def lease_slots(count: int):
    """Reserve ``count`` worker slots (hence uids) for as long as the context lasts.

    As root, each slot is held by an exclusive ``flock`` on a file in :data:`LOCK_DIR`; the kernel
    releases it when the holder exits, even by a crash, so a slot is never lost. Without root there
    are no uids to share and the slots are simply ``0 .. count - 1``.

    Yields
    ------
    slots : list of int
        ``count`` slot numbers, for :func:`uid_for_worker`.
    """
    mode()  # found out once, here, so every worker forked later inherits the answer
    if not is_root():
        yield list(range(count))
        return

    LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
    held: list[tuple[int, int]] = []
    try:
        for slot in range(SLOT_COUNT):
            if len(held) == count:
                break
            fd = os.open(LOCK_DIR / f"{BASE_UID + slot}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            held.append((slot, fd))
        if len(held) < count:
            raise RuntimeError(f"only {len(held)} of {count} grading slots are free: other grading "
                               f"runs hold the rest (locks in {LOCK_DIR})")
        for slot, _ in held:  # whatever a crashed earlier holder left behind
            kill_uid(uid_for_worker(slot))
        yield [slot for slot, _ in held]
    finally:
        for _, fd in held:
            os.close(fd)


def uid_for_worker(slot: int) -> int | None:
    """The uid a worker's kernels run as (root only); distinct per worker so kills stay local."""
    return BASE_UID + slot if is_root() else None


def prepare(job_dir: Path, workdir: Path, slot: Slot) -> Path:
    """Write the job's kernelspec and make ``workdir`` usable by the sandbox user.

    The kernel runs with ``slot``'s uid, limits and hidden paths; with ``slot.zygote`` (the socket
    of a running :mod:`grader.zygote`), it is forked from it, otherwise it is started from scratch
    by :mod:`grader.kernel_launcher`.

    Returns the directory to prepend to ``JUPYTER_PATH``.
    """
    uid = slot.uid
    workdir.mkdir(parents=True, exist_ok=True)
    ipc = job_dir / "ipc"  # the kernel's sockets (see course.nbgrader_config)
    cfg = SandboxConfig(str(workdir), uid, NOGROUP if uid is not None else None,
                        namespace=_namespace_kind(),
                        hide=list(dict.fromkeys([*slot.hide, *_code_roots_private()])),
                        limits=slot.limits,
                        expose=sorted({os.path.realpath(sys.base_prefix),
                                       os.path.realpath(sys.prefix), *CODE_ROOTS}),
                        private=_private_folders(job_dir), writable=[str(ipc)],
                        log=str(job_dir / "kernel.log"))
    spec_root = job_dir / "kernelspec"
    spec_dir = spec_root / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    cfg_path = job_dir / "sandbox.json"
    cfg_path.write_text(json.dumps(cfg.as_json()))
    argv = slot.argv(cfg_path, ["-f", "{connection_file}"])
    (spec_dir / "kernel.json").write_text(json.dumps(
        {"argv": argv, "display_name": "Python 3 (grading sandbox)", "language": "python",
         "env": {"PYTHONPATH": os.environ.get("GRADER_KERNEL_PYTHONPATH", "")}}))
    ipc.mkdir(mode=0o700, exist_ok=True)
    if uid is not None:
        os.chown(ipc, uid, NOGROUP)
        # The path down to the notebook is traversable but not listable; only the notebook's own
        # folder belongs to the sandbox user.
        for parent in [job_dir, *[p for p in workdir.parents if job_dir in p.parents]]:
            os.chmod(parent, 0o711)
        for path in [workdir, *workdir.rglob("*")]:
            os.chown(path, uid, NOGROUP)
    return spec_root


def _private_folders(job_dir: Path) -> list[str]:
    """Folders the kernel sees empty (besides /tmp, /var/tmp, /dev/shm): the grading run's scratch
    folder (the other jobs, the template course, the zygote's socket) and the grader's home."""

    folders = [os.path.realpath(job_dir.parent)]
    try:
        folders.append(os.path.realpath(pwd.getpwuid(os.getuid()).pw_dir))
    except KeyError:
        pass
    folders.append(os.path.realpath(os.path.expanduser("~")))
    return [f for f in dict.fromkeys(folders) if f != "/"]


def kill_uid(uid: int | None, grace: float = 0.5) -> int:
    """Kill every process running as ``uid``; return how many there were."""
    if uid is None:
        return 0

    victims = [p for p in psutil.process_iter(["uids"]) if p.info["uids"] and
               p.info["uids"].real == uid]
    for p in victims:
        try:
            p.send_signal(signal.SIGKILL)
        except psutil.Error:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(p.is_running() and p.status() != "zombie"
                                              for p in victims if _exists(p)):
        time.sleep(0.05)
    return len(victims)


def _exists(p) -> bool:

    try:
        return p.is_running()
    except psutil.Error:
        return False
