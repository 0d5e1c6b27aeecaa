"""Kernel lock-down of a forked child before it runs a line of DAG code.

Everything here is enforced by the kernel, so nothing the DAG code does afterwards (ctypes
included) can undo it. In order, in the child:

1. **Parent death**: ``PR_SET_PDEATHSIG`` SIGKILL, so the child dies with its parent.
2. **Process group**: the child leads its own group, which the parent kills as a whole.
3. **Descriptors**: 0, 1, 2 go to /dev/null, every other descriptor but ``keep`` (the
   result pipe) is closed.
4. **Folder**: a fresh temporary folder is the working directory, HOME and TMPDIR.
5. **Limits**: hard rlimits (soft == hard) on address space, CPU time, tasks, file size,
   open files, and no core files.
6. **Landlock** (Linux 5.13+, features by ABI): read only the ``readable`` paths, write
   only the folder (and /dev/null), execute nothing; from ABI 4 no TCP bind or connect;
   from ABI 6 no signals to, and no abstract unix sockets of, processes outside the child.
7. **Capabilities**: all dropped (root in a CI container is root no more).
8. **seccomp** (libseccomp through ``pyseccomp``): no new processes, no exec, no sockets,
   no ptrace or cross-process memory, no io_uring, no namespaces or mounts, no raising or
   setting limits, no leaving the process group, no changing file metadata, and the
   other dangerous odds and ends listed in DENIED. A refused call fails with EPERM, so
   Python raises PermissionError and the file gets a clear problem instead of a kill.

``available()`` says, once per process and cheaply, which layers this machine has.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import resource
import signal
import stat
import struct
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# -- Landlock (uapi/linux/landlock.h); the syscall numbers are the same on every arch ----

LANDLOCK_CREATE_RULESET, LANDLOCK_ADD_RULE, LANDLOCK_RESTRICT_SELF = 444, 445, 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1
PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG = 38, 1

FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_REFER, FS_TRUNCATE, FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1
READ = FS_READ_FILE | FS_READ_DIR


def _fs_rights(abi: int) -> int:
    """Every filesystem right the kernel's Landlock ABI knows (all of them handled)."""
    rights = (1 << 13) - 1  # ABI 1: EXECUTE .. MAKE_SYM
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # the kernel's struct is __attribute__((packed))
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


@lru_cache(maxsize=1)
def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def _syscall(number: int, *args: Any) -> int:
    """A raw syscall; an OSError with the errno on failure."""
    function = _libc().syscall
    function.restype = ctypes.c_long
    ctypes.set_errno(0)
    result = int(function(ctypes.c_long(number), *args))
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


def _prctl(option: int, value: int, third: int = 0) -> None:
    function = _libc().prctl
    function.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                         ctypes.c_ulong)
    function.restype = ctypes.c_int
    if function(option, value, third, 0, 0) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"prctl({option}): {os.strerror(code)}")


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when it has none (or is not Linux)."""
    if platform.system() != "Linux":
        return 0
    try:
        return _syscall(LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0),
                        ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION))
    except OSError:  # ENOSYS (not built in), EOPNOTSUPP (disabled at boot)
        return 0


# -- seccomp ------------------------------------------------------------------------------

CLONE_THREAD = 0x00010000
# Namespace flags of clone (CLONE_NEWTIME, NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER,
# NEWPID, NEWNET).
CLONE_NAMESPACES = (0x00000080, 0x00020000, 0x02000000, 0x04000000, 0x08000000,
                    0x10000000, 0x20000000, 0x40000000)
# Refused outright with EPERM. Names this architecture does not have (fork on aarch64)
# are skipped.
DENIED = (
    # processes and programs
    "fork", "vfork", "execve", "execveat",
    # sockets of every family (the result goes through a pipe)
    "socket", "socketpair",
    # other processes: tracing, their memory, their descriptors, signalling by handle
    "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "kcmp",
    "pidfd_open", "pidfd_getfd", "pidfd_send_signal", "tkill", "rt_sigqueueinfo",
    "rt_tgsigqueueinfo",
    # io_uring does filesystem and network work that seccomp cannot see
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    # namespaces, mounts, the root
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "move_mount",
    "open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    # limits (prlimit64 with a new limit is refused below), the process group
    "setrlimit", "setsid", "setpgid",
    # file metadata Landlock does not cover (mode, owner, times, attributes, handles)
    "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat",
    "utime", "utimes", "utimensat", "futimesat", "setxattr", "lsetxattr", "fsetxattr",
    "removexattr", "lremovexattr", "fremovexattr", "setxattrat", "removexattrat",
    "file_setattr", "open_tree_attr",
    "open_by_handle_at", "name_to_handle_at", "mknod", "mknodat",
    # the kernel itself
    "bpf", "keyctl", "add_key", "request_key", "perf_event_open", "personality",
    "userfaultfd", "kexec_load", "kexec_file_load", "init_module", "finit_module",
    "delete_module", "reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd",
    "syslog", "iopl", "ioperm", "settimeofday", "clock_settime", "clock_adjtime",
    "adjtimex", "sethostname", "setdomainname", "fanotify_init", "lookup_dcookie",
    "uselib", "vhangup",
)
# Newer than some libseccomp releases (2.5.4 does not know them): the same number on
# x86-64 and aarch64 (the unified syscall table, from 424 on).
DENIED_BY_NUMBER = {"setxattrat": 463, "removexattrat": 466, "open_tree_attr": 467,
                    "file_setattr": 469}


def _seccomp_module() -> Any:
    """pyseccomp, or None when it or the system's libseccomp is missing."""
    try:
        import pyseccomp
    except (ImportError, OSError, RuntimeError):  # RuntimeError: no libseccomp.so
        return None
    return pyseccomp


def _seccomp_works(module: Any) -> bool:
    try:
        return bool(module.get_api() >= 1)  # libseccomp probes the kernel
    except (NotImplementedError, OSError):
        return False


def _deny(sc: Any, flt: Any, action: int, name: str, *args: Any) -> None:
    number = sc.resolve_syscall(sc.Arch.NATIVE, name)
    if number < 0:  # unknown to libseccomp, or not a syscall of this architecture
        number = DENIED_BY_NUMBER.get(name, -1)
        if number < 0:
            return
    flt.add_rule(action, number, *args)


def seccomp_filter(pid: int) -> Any:
    """The filter for the child ``pid``: allow by default, EPERM for what it must not do.
    ``prepare()`` builds it once, before forking, for a placeholder pid."""
    sc = _seccomp_module()
    if sc is None:
        raise LockdownError("seccomp is not available (libseccomp missing)")
    flt = sc.SyscallFilter(sc.ALLOW)
    flt.set_attr(sc.Attr.ACT_BADARCH, sc.KILL_PROCESS)  # 32-bit syscalls on x86-64
    eperm = sc.ERRNO(errno.EPERM)
    for name in DENIED:
        _deny(sc, flt, eperm, name)
    # glibc falls back to clone when clone3 says ENOSYS (clone3's flags are behind a
    # pointer seccomp cannot read); clone may then make threads only.
    _deny(sc, flt, sc.ERRNO(errno.ENOSYS), "clone3")
    _deny(sc, flt, eperm, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, 0))
    for flag in CLONE_NAMESPACES:
        _deny(sc, flt, eperm, "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    _deny(sc, flt, eperm, "prlimit64", sc.Arg(2, sc.NE, 0))  # setting a limit
    _deny(sc, flt, eperm, "prlimit64", sc.Arg(0, sc.NE, 0))  # another process's limits
    _deny(sc, flt, eperm, "prctl", sc.Arg(0, sc.EQ, PR_SET_PDEATHSIG))
    _signal_rules(sc, flt, pid)
    return flt


def _signal_rules(sc: Any, flt: Any, pid: int) -> None:
    """Signals to itself only (libseccomp allows one comparison per argument, so kill(0)
    is refused too). Landlock's signal scope says the same from ABI 6."""
    eperm = sc.ERRNO(errno.EPERM)
    _deny(sc, flt, eperm, "kill", sc.Arg(0, sc.NE, pid))
    _deny(sc, flt, eperm, "tgkill", sc.Arg(0, sc.NE, pid))


# A stand-in for the child's pid in the filter built before forking: above any pid
# (pid_max is at most 2**22), so it is found only where the pid goes.
PID_PLACEHOLDER = 0x3FFF_FF5A
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2


@dataclass(frozen=True)
class _Program:
    """libseccomp's BPF program for ``seccomp_filter(PID_PLACEHOLDER)``, and where the
    placeholder is in it (byte offsets of the constants to replace with the pid)."""

    code: bytes
    offsets: tuple[int, ...]

    def for_pid(self, pid: int) -> bytes:
        code = bytearray(self.code)
        for offset in self.offsets:
            struct.pack_into("=I", code, offset, pid)
        return bytes(code)


_prepared: list[_Program] = []  # built once by prepare(), loaded by each child


def _export(flt: Any) -> bytes:
    """The BPF program libseccomp makes of ``flt`` (what seccomp_load would load)."""
    fd = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
    try:
        with os.fdopen(os.dup(fd), "rb", closefd=True) as handle:
            flt.export_bpf(handle)
        size = os.lseek(fd, 0, os.SEEK_END)
        return os.pread(fd, size, 0)
    finally:
        os.close(fd)


def _program() -> _Program | None:
    """The child's filter as a program with the pid to patch in, or None if patching
    the placeholder would not give, for two real pids, exactly the program libseccomp
    makes for them (then each child builds its own)."""
    code = _export(seccomp_filter(PID_PLACEHOLDER))
    if len(code) % 8:
        return None
    offsets = tuple(index * 8 + 4 for index, (_, _, _, k) in
                    enumerate(struct.iter_unpack("=HBBI", code)) if k == PID_PLACEHOLDER)
    program = _Program(code, offsets)
    if not offsets or any(program.for_pid(pid) != _export(seccomp_filter(pid))
                          for pid in (os.getpid(), 4_194_303)):
        return None
    return program


def prepare(paths: Iterable[str] = ()) -> None:
    """Before forking children: build the seccomp filter (where seccomp is available):
    libseccomp's program for a placeholder pid, so that each child only puts its pid in
    and loads it (building the filter is most of the lock-down's cost); and open each of
    ``paths`` (what every child may read) once, for the Landlock rules of every child,
    which then neither looks them up nor opens them again."""
    if available().seccomp and not _prepared:
        program = _program()
        if program is not None:
            _prepared.append(program)
    for path in paths:
        if path not in _opened and len(_opened) < MAX_PREOPENED:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # a child skips it too
            _opened[path] = (fd, stat.S_ISDIR(os.fstat(fd).st_mode))


_opened: dict[str, tuple[int, bool]] = {}  # path -> (O_PATH descriptor, is a folder)
# At most this many: a repository root of thousands of entries must not use up the
# zygote's descriptors (a child opens the others itself).
MAX_PREOPENED = 256


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _load_seccomp(pid: int) -> None:
    if not _prepared:
        seccomp_filter(pid).load()
        return
    # What seccomp_load does with this filter (no TSYNC, log or notify flags): no new
    # privileges, then the program.
    data = _prepared[0].for_pid(pid)
    code = ctypes.create_string_buffer(data, len(data))
    program = _SockFprog(len(data) // 8, ctypes.addressof(code))
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    _prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(program))


# -- the API ------------------------------------------------------------------------------


class LockdownError(Exception):
    """A layer that is available could not be put in place: the child must not go on."""


@dataclass(frozen=True)
class Layers:
    """What this machine can enforce."""

    landlock_abi: int  # 0: no Landlock
    seccomp: bool
    reason: str = ""  # why a layer is missing, for the report

    @property
    def kernel(self) -> bool:
        """Full kernel containment: both layers."""
        return self.landlock_abi >= 1 and self.seccomp

    def describe(self) -> str:
        if not self.kernel:
            return f"kernel containment unavailable ({self.reason})"
        return f"kernel containment: Landlock ABI {self.landlock_abi}, seccomp"


@dataclass(frozen=True)
class Limits:
    """Hard limits of a child (0: none, for the first three)."""

    memory_mb: int = 0  # RLIMIT_AS
    cpu_seconds: int = 0  # RLIMIT_CPU: SIGXCPU at the limit, SIGKILL one second later
    file_mb: int = 256  # RLIMIT_FSIZE: the largest file it may write (its folder only)
    open_files: int = 1024  # RLIMIT_NOFILE
    threads: int = 64  # tasks beyond those running now (RLIMIT_NPROC; not for root)


@lru_cache(maxsize=1)
def available() -> Layers:
    """The layers this machine has; detected once per process."""
    if platform.system() != "Linux":
        return Layers(0, False, f"{platform.system()} is not Linux")
    abi = landlock_abi()
    sc = _seccomp_module()
    seccomp = sc is not None and _seccomp_works(sc)
    reasons = []
    if abi < 1:
        reasons.append("no Landlock in this kernel (Linux 5.13+ with landlock in lsm=)")
    if sc is None:
        reasons.append("no libseccomp (libseccomp2) or pyseccomp")
    elif not seccomp:
        reasons.append("the kernel refuses seccomp filters")
    return Layers(abi, seccomp, "; ".join(reasons))


def lock_down(folder: str, readable: list[str], limits: Limits, keep: int = -1,
              layers: Layers | None = None, listable: list[str] | None = None) -> None:
    """Lock the calling process down for good; call it in a freshly forked child.

    ``folder`` becomes its working directory, HOME and TMPDIR and the only place it may
    write; ``readable`` are the files and folders it may read (what imports need);
    ``keep`` is a descriptor to keep open (the result pipe); ``listable`` are folders
    it may list (not read beneath: the repository root, whose .git it must not read,
    and whose entries are in ``readable``). The layers ``layers`` (by
    default what ``available()`` found) are required: if one fails, LockdownError."""
    layers = available() if layers is None else layers
    parent = os.getppid()
    if platform.system() == "Linux":
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)
    try:
        os.setpgid(0, 0)
    except PermissionError:  # already a group (or session) leader
        pass
    opened = {fd for fd, _ in _opened.values()}
    _descriptors({keep} | opened)
    _folder(folder)
    _limits(limits)
    if layers.landlock_abi >= 1:
        _landlock(layers.landlock_abi, folder, readable, listable or [])
    for fd in opened:  # the prepared paths' descriptors, no longer needed
        os.close(fd)
    _opened.clear()
    _drop_capabilities()
    if layers.seccomp:
        try:
            _load_seccomp(os.getpid())
        except OSError as error:
            raise LockdownError(f"seccomp: {error}") from error


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _drop_capabilities() -> None:
    """Give up every capability (a CI job often runs as root): what the other layers do
    not cover, root's privileges must not reach. Not Linux: nothing to drop."""
    if platform.system() != "Linux":
        return
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    if _libc().capset(ctypes.byref(header), ctypes.byref(data)) != 0:
        code = ctypes.get_errno()
        raise LockdownError(f"dropping capabilities: {os.strerror(code)}")


def _descriptors(keep: set[int]) -> None:
    """Standard streams on /dev/null, every other descriptor but ``keep`` closed."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:  # never one of ``keep``: those are open
        os.close(null)
    low = 3
    for fd in sorted(fd for fd in keep if fd > 2):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)


def _folder(folder: str) -> None:
    os.chdir(folder)
    os.environ.update({"HOME": folder, "TMPDIR": folder, "TMP": folder, "TEMP": folder})
    tempfile.tempdir = folder


def _hard(which: int, value: int) -> None:
    """Set soft and hard limit ``which`` to ``value``, never above the current hard one."""
    _, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, value))


def _limits(limits: Limits) -> None:
    _hard(resource.RLIMIT_CORE, 0)
    _hard(resource.RLIMIT_FSIZE, limits.file_mb * 1024 * 1024)
    _hard(resource.RLIMIT_NOFILE, limits.open_files)
    if limits.memory_mb > 0:
        _hard(resource.RLIMIT_AS, limits.memory_mb * 1024 * 1024)
    if limits.cpu_seconds > 0:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        soft = int(usage.ru_utime + usage.ru_stime) + limits.cpu_seconds
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, soft + 1 if hard ==
                                                 resource.RLIM_INFINITY else min(soft + 1, hard)))
    _hard(resource.RLIMIT_NPROC, _tasks_now() + limits.threads)


def _tasks_now() -> int:
    """Tasks running on the machine now (/proc/loadavg), which RLIMIT_NPROC counts too
    (per user; for root it is not enforced, and seccomp's fork refusal is the wall)."""
    try:  # os.read, not open(): a text file's machinery costs a fresh child about 1 ms
        fd = os.open("/proc/loadavg", os.O_RDONLY | os.O_CLOEXEC)
        try:
            return int(os.read(fd, 256).split()[3].split(b"/")[1])
        finally:
            os.close(fd)
    except (OSError, ValueError, IndexError):
        return 4096


def _landlock(abi: int, folder: str, readable: list[str], listable: list[str]) -> None:
    fs = _fs_rights(abi)
    attr = _RulesetAttr(fs, NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0,
                        SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    try:
        ruleset = _syscall(LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size),
                           ctypes.c_uint32(0))
    except OSError as error:
        raise LockdownError(f"Landlock: creating the ruleset: {error}") from error
    try:
        for path in readable:
            _allow(ruleset, path, READ & fs)
        for path in listable:
            _allow(ruleset, path, FS_READ_DIR)
        _allow(ruleset, "/dev/null", (FS_READ_FILE | FS_WRITE_FILE | FS_TRUNCATE) & fs)
        _allow(ruleset, "/dev/urandom", FS_READ_FILE)
        _allow(ruleset, f"/proc/{os.getpid()}", READ)
        _allow(ruleset, folder, fs & ~FS_EXECUTE, required=True)
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
        _syscall(LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0))
    except OSError as error:
        raise LockdownError(f"Landlock: {error}") from error
    finally:
        os.close(ruleset)


def _allow(ruleset: int, path: str, rights: int, required: bool = False) -> None:
    """Grant ``rights`` beneath ``path`` (only file rights if it is a file); a path
    that does not exist is skipped unless ``required``."""
    if path in _opened:
        fd, is_dir = _opened[path]
        _add_rule(ruleset, fd, rights if is_dir else rights & FILE_RIGHTS)
        return
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        if required:
            raise
        return
    try:
        is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
        _add_rule(ruleset, fd, rights if is_dir else rights & FILE_RIGHTS)
    finally:
        os.close(fd)


def _add_rule(ruleset: int, fd: int, rights: int) -> None:
    rule = _PathBeneathAttr(rights, fd)
    _syscall(LANDLOCK_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH),
             ctypes.byref(rule), ctypes.c_uint32(0))
