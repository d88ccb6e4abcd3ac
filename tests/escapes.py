"""Planted escapes: predictions a hostile model could write, each the row's own answer plus one
attempt to leave the sandbox, for C++ (``cpu`` ``python_to_forward``) and Python
(``forward_to_python``) candidates.

Each attempt that is refused says so and fails its candidate ("refused: ..."); each that is not
refused would do its harm and let the candidate go on to a correct answer. So a test that finds
every candidate failed, with the error of the guard that stopped it, and nothing landed, fails
when that guard is planted away. Harm is kept observable and small: files named with a token
under the test's own folders and ``/tmp``, processes named with it, a connection to the test's
own server on 127.0.0.1.
"""

from __future__ import annotations

from dataclasses import dataclass

from code_parts import forward_body

# Guards, as the error a stopped attempt reports.
SECCOMP = "SIGSYS"  # the seccomp layer ends the child
LANDLOCK = "Permission denied"  # the landlock layer refuses the file
HIDDEN = "No such file or directory"  # the namespaces layer shows no such file
ENVIRONMENT = "refused: no WIRP_TEST_SECRET"  # the worker's environment was emptied
MEMORY = "MemoryError"  # the address-space limit: malloc fails (C++), MemoryError (Python)
TIMEOUT = "timed out"
FILE_SIZE = "the file-size limit"  # its output stopped there (Python ignores SIGXFSZ: the write fails)
NO_ANSWER = "refused: no answer in memory"
NO_OUTPUTS = "refused: no outputs found"
NO_PIPE = "refused: no pipe to forge answers on"
NO_PIPE = "refused: no pipe to forge answers on"


@dataclass(frozen=True)
class Places:
    """Where harm would land, and what would be stolen: all the test's own."""

    token: str  # in every name an escape writes, and in a daemon's process name
    landing: str  # a folder outside the sandbox
    data: str  # the dataset folder being scored
    secret_file: str  # a planted file in a home folder
    secret: str  # its contents, and the value of WIRP_TEST_SECRET in the harness's environment
    port: int  # the test's TCP server

    def name(self, kind: str) -> str:
        return f"wirp-escape-{self.token}-{kind}"


@dataclass(frozen=True)
class Escape:
    kind: str
    guard: str  # the error expected while the whole sandbox is in force
    cpp: str  # statements run once by the forward ("": Python alone)
    python: str  # module code run before the kernel is defined
    own_answer: bool = False  # the Python brings its own kernel (or none): the row's source does not follow


def escapes(at: Places) -> list[Escape]:
    landing = at.landing
    daemon = f"wd{at.token}"[:15]
    return [
        Escape(
            "system",
            SECCOMP,
            f'if (system("touch {landing}/system") != 0) wirp_refused("system");',
            f'import os\nif os.system("touch {landing}/system"): raise RuntimeError("refused: system")',
        ),
        Escape(
            "popen",
            SECCOMP,
            f'if (!popen("touch {landing}/popen", "r")) wirp_refused("popen");',
            f'import subprocess\nsubprocess.run(["touch", "{landing}/popen"], check=True)',
        ),
        Escape(
            "execve",
            SECCOMP,
            f'char* argv[] = {{(char*)"sh", (char*)"-c", (char*)"touch {landing}/execve", 0}};\n'
            'execve("/bin/sh", argv, 0); wirp_refused("execve");',
            f'import os\nos.execv("/bin/sh", ["sh", "-c", "touch {landing}/execve"])',
        ),
        Escape(
            "absolute path",
            HIDDEN,
            f'wirp_write("{landing}/absolute");',
            f'open("{landing}/absolute", "w").write("x")',
        ),
        Escape(
            "dot-dot", LANDLOCK, f'wirp_write("../../{at.name("dotdot")}");', f'open("../../{at.name("dotdot")}", "w")'
        ),
        Escape(
            "data folder",
            HIDDEN,
            f'wirp_write("{at.data}/{at.name("data")}");',
            f'open("{at.data}/{at.name("data")}", "w").write("x")',
        ),
        Escape(
            "home secret",
            HIDDEN,
            f'void* f = fopen("{at.secret_file}", "r"); if (!f) wirp_refused("home");\n'
            'char line[128] = {0}; fgets(line, 127, f); dprintf(2, "stolen %s\\n", line);',
            f'print("stolen", open("{at.secret_file}").read())',
        ),
        Escape(
            "environment",
            ENVIRONMENT,
            'char* s = getenv("WIRP_TEST_SECRET");\n'
            'if (!s) { dprintf(2, "error: refused: no WIRP_TEST_SECRET\\n"); abort(); }\n'
            'dprintf(2, "error: stolen %s\\n", s); abort();',
            'import os\nsecret = os.environ.get("WIRP_TEST_SECRET")\n'
            'raise RuntimeError("stolen " + secret if secret else "refused: no WIRP_TEST_SECRET")',
        ),
        Escape(
            "double-forked daemon",
            SECCOMP,
            'int pid = fork(); if (pid < 0) wirp_refused("fork");\n'
            "if (pid == 0) { setsid();\n"
            f'    if (fork() == 0) {{ prctl(15, (unsigned long)"{daemon}", 0, 0, 0); sleep(20); }}\n'
            "    _exit(0); }",
            "import ctypes, os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            f'        ctypes.CDLL(None).prctl(15, b"{daemon}", 0, 0, 0)\n        time.sleep(20)\n    os._exit(0)',
        ),
        Escape(
            "kill the parent",
            SECCOMP,
            'if (kill(getppid(), 9) != 0) wirp_refused("kill");',
            "import os\nos.kill(os.getppid(), 9)",
        ),
        Escape("kill everything", SECCOMP, 'if (kill(-1, 9) != 0) wirp_refused("kill");', "import os\nos.kill(-1, 9)"),
        Escape(
            "fork bomb",
            SECCOMP,
            'for (int i = 0; i < 4096; ++i) { int pid = fork(); if (pid < 0) wirp_refused("fork");'
            " if (pid == 0) { sleep(5); _exit(0); } }",
            "import os, time\nfor _ in range(4096):\n"
            "    if os.fork() == 0:\n        time.sleep(5)\n        os._exit(0)",
        ),
        Escape(
            "memory bomb",
            MEMORY,
            "for (int i = 0; i < 64; ++i) { char* p = (char*)malloc(size_t(1) << 30);"
            ' if (!p) wirp_refused("MemoryError"); p[0] = 1; }',
            "import mmap\nblocks = []\nfor _ in range(64):\n    try:\n        blocks.append(mmap.mmap(-1, 1 << 30))\n"
            "    except OSError:\n        raise MemoryError('refused') from None",
        ),
        Escape("endless loop", TIMEOUT, "for (volatile int spin = 0; ; spin = spin + 0) {}", "while True:\n    pass"),
        Escape(
            "flood of output",
            FILE_SIZE,
            "static char chunk[65536]; memset(chunk, 120, sizeof chunk);\n"
            'for (;;) if (write(1, chunk, sizeof chunk) < 0) wirp_refused("write");',
            'import os\nwhile True:\n    os.write(1, b"x" * 65536)',
        ),
        Escape(
            "symlink out of scratch",
            LANDLOCK,
            f'symlink("/tmp", "out"); wirp_write("out/{at.name("symlink")}");',
            f'import os\nos.symlink("/tmp", "out")\nopen("out/{at.name("symlink")}", "w")',
        ),
        Escape(
            "write through /proc",
            LANDLOCK,
            f'wirp_write("/proc/self/root/tmp/{at.name("proc")}");',
            f'open("/proc/self/root/tmp/{at.name("proc")}", "w")',
        ),
        Escape(
            "the worker's memory through /proc",
            LANDLOCK,
            'char path[64]; snprintf(path, 64, "/proc/%d/mem", getppid());\n'
            'if (open(path, 2) < 0) wirp_refused("/proc/PID/mem");',
            'import os\nopen(f"/proc/{os.getppid()}/mem", "r+b")',
        ),
        Escape(
            "network",
            SECCOMP,
            'int s = socket(2, 1, 0); if (s < 0) wirp_refused("socket");\n'
            f"unsigned char address[16] = {{2, 0, {at.port >> 8}, {at.port & 255}, 127, 0, 0, 1}};\n"
            'if (connect(s, address, 16) != 0) wirp_refused("connect"); write(s, "landed", 6);',
            f'import socket\nsocket.create_connection(("127.0.0.1", {at.port}), timeout=2).sendall(b"landed")',
        ),
    ]


# Python alone: a cheat that finds its task's answer (the row's own source) in its own process, one
# that looks for the reference's outputs on the disk, and one that forges answers on the pipes it holds.
def python_cheats() -> list[Escape]:
    find_answer = """
import gc, linecache, sys
key = "def " + KERNEL_NAME + "("
found = ["".join(entry[2]) for entry in list(linecache.cache.values()) if entry[2] and key in "".join(entry[2])]
seen, todo = set(), gc.get_objects()
while todo and not found and len(seen) < 3_000_000:
    item = todo.pop()
    if id(item) in seen:
        continue
    seen.add(id(item))
    if isinstance(item, str):
        if key in item and "wp.kernel" in item:
            found.append(item)
    elif not isinstance(item, (bytes, int, float, type(sys))):
        todo.extend(gc.get_referents(item))
if not found:
    raise RuntimeError("refused: no answer in memory")
exec(found[0], globals())
"""
    find_outputs = """
import glob
found = glob.glob("../*/*.npz") + glob.glob("../../*/*/*.npz") + glob.glob("/tmp/**/*.npz", recursive=True)
raise RuntimeError("refused: no outputs found" if not found else "found " + " ".join(found[:3]))
"""
    return [
        Escape("the answer in memory", NO_ANSWER, "", find_answer, own_answer=True),
        Escape("the reference's outputs", NO_OUTPUTS, "", find_outputs, own_answer=True),
        Escape("forged answers", NO_PIPE, "", FORGE_ANSWERS),
    ]


# Answers written on every pipe the child may hold: its spawner's (a forged exit), its worker's (a
# forged row end). Either would put a wrong score on this candidate or the next.
FORGE_ANSWERS = """
import os, stat
forged = []
for fd in range(3, 1024):
    try:
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            os.write(fd, b'{"status": 0, "took": 0, "started": true}\\nWIRP_EVAL {"event": "row"}\\n')
            forged.append(fd)
    except OSError:
        pass
if not forged:
    raise RuntimeError("refused: no pipe to forge answers on")
"""


# What every C++ escape may call: libc, declared by hand (Warp's CPU units include no system header).
CPP_DECLARATIONS = """extern "C" {
int system(const char*); void* popen(const char*, const char*); int execve(const char*, char* const*, char* const*);
void* fopen(const char*, const char*); int fputs(const char*, void*); int fclose(void*); char* fgets(char*, int, void*);
int fork(void); int setsid(void); int getppid(void); int kill(int, int); unsigned sleep(unsigned); void _exit(int);
int symlink(const char*, const char*); char* getenv(const char*); int open(const char*, int, ...);
long write(int, const void*, size_t); char* strerror(int); int* __errno_location(void); void abort(void);
int dprintf(int, const char*, ...); int snprintf(char*, size_t, const char*, ...);
int prctl(int, unsigned long, unsigned long, unsigned long, unsigned long); int socket(int, int, int);
int connect(int, const void*, unsigned int);
}
static void wirp_refused(const char* what) {
    dprintf(2, "error: refused: %s: %s\\n", what, strerror(*__errno_location())); abort(); }
static void wirp_write(const char* path) {
    void* f = fopen(path, "w"); if (!f) wirp_refused(path); fputs("x", f); fclose(f); }
"""


def cpp_prediction(forward: str, escape: Escape) -> str:
    """The row's forward that first makes the attempt, once."""
    at = forward_body(forward)
    attempt = f"    {{ static int once = 0; if (!once) {{ once = 1;\n{escape.cpp}\n    }} }}\n"
    return CPP_DECLARATIONS + forward[:at] + attempt + forward[at:]


def python_prediction(python_source: str, kernel_name: str, escape: Escape) -> str:
    """The attempt (``KERNEL_NAME`` is the row's kernel's name), then (unless it is a cheat that
    brings its own answer) the row's own source."""
    attempt = escape.python.replace("KERNEL_NAME", repr(kernel_name))
    return attempt + "\n" + ("" if escape.own_answer else python_source)
