"""The ``seccomp`` layer: system calls a child may not make, as a table (seccomp, through
``pyseccomp`` and the system's libseccomp).

Everything else is allowed: a compiler and an interpreter make many calls, and the other layers
confine what those calls reach. A forbidden call ends the child at once (SIGSYS), so an attempted
escape fails its candidate instead of going on quietly; ``clone3`` alone answers "not implemented",
which makes the C library start its threads with ``clone``, whose flags a filter can read.
"""

from __future__ import annotations

import errno
import os

CLONE_THREAD = 0x00010000
AF_UNIX = 1

# What each group of calls would let a child do, and the calls. A call whose rule is "another" is
# forbidden when its first argument is a process other than the child itself; "process" when it
# starts a process rather than a thread; "network" when it opens a socket other than a UNIX one.
FORBIDDEN: dict[str, tuple[tuple[str, str], ...]] = {
    "run a program": (("execve", ""), ("execveat", "")),
    "start a process": (("fork", ""), ("vfork", ""), ("clone", "process")),
    "signal another process": (
        ("kill", "another"),
        ("tgkill", "another"),
        ("tkill", ""),
        ("rt_sigqueueinfo", "another"),
        ("rt_tgsigqueueinfo", "another"),
        ("pidfd_open", ""),
        ("pidfd_send_signal", ""),
        ("pidfd_getfd", ""),
    ),
    "trace or read another process": (
        ("ptrace", ""),
        ("process_vm_readv", ""),
        ("process_vm_writev", ""),
        ("process_madvise", ""),
        ("kcmp", ""),
    ),
    "leave its namespaces or mounts": tuple(
        (name, "")
        for name in (
            "unshare",
            "setns",
            "mount",
            "umount2",
            "pivot_root",
            "chroot",
            "open_tree",
            "move_mount",
            "fsopen",
            "fsmount",
            "fspick",
            "fsconfig",
            "mount_setattr",
        )
    ),
    "open a network socket": (("socket", "network"),),
    "reach the kernel around the other layers": tuple(
        (name, "")
        for name in (
            "bpf",
            "perf_event_open",
            "userfaultfd",
            "io_uring_setup",
            "io_uring_enter",
            "io_uring_register",
            "keyctl",
            "add_key",
            "request_key",
            "init_module",
            "finit_module",
            "delete_module",
            "kexec_load",
            "kexec_file_load",
            "reboot",
            "swapon",
            "swapoff",
            "acct",
            "setpriority",
            "ioprio_set",
        )
    ),
}


def available() -> str:
    """Why the layer cannot be applied here, or nothing where it can."""
    try:
        import pyseccomp  # noqa: F401  (loads the system's libseccomp)
    except (ImportError, OSError) as error:
        return f"pyseccomp and the system's libseccomp are needed ({type(error).__name__}: {error})"
    return ""


def forbid_syscalls() -> None:
    """Load the filter into this process (and whatever it could still start)."""
    import pyseccomp as seccomp

    own = os.getpid()
    conditions = {
        "": (),
        "another": (seccomp.Arg(0, seccomp.NE, own),),
        "process": (seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_THREAD, 0),),
        "network": (seccomp.Arg(0, seccomp.NE, AF_UNIX),),
    }
    arch = seccomp.system_arch()
    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    for calls in FORBIDDEN.values():
        for name, when in calls:
            if seccomp.resolve_syscall(arch, name) < 0:
                continue  # a call libseccomp does not know
            rules.add_rule(seccomp.KILL_PROCESS, name, *conditions[when])
    rules.load()
