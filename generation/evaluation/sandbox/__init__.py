"""The sandbox every candidate is compiled, imported and run in: predictions are hostile code.

Layers, outermost first (``layers.py`` says which are in force on this machine):

- ``namespaces`` (``namespaces.py``, bubblewrap): each evaluation worker runs in new user, PID,
  network, IPC, UTS and mount namespaces, with no capabilities and an emptied environment. It sees
  the system's libraries, the interpreter, the installed packages and this package, read-only, and
  a private scratch folder of bounded size; no home folder, no dataset, no other file of the user's.
  It dies with the harness, and everything in its PID namespace dies with it.
- ``landlock`` (``files.py``): each child reads only the interpreter, the installed packages and
  this package, writes only its own folder, sends signals to no process outside itself and opens
  no TCP connection.
- ``seccomp`` (``syscalls.py``): each child runs no program, starts no process (threads only),
  signals only itself, traces nothing and makes no namespace, mount or kernel-module call: such a
  call ends it (SIGSYS).
- ``limits`` (``limits.py``): time, address space, CPU seconds, file size, processes, no core dumps.

Children fork from a spawner forked from the warm worker before any job (``children.py``), so a
candidate's process never holds the job: not the row's answer, nor other candidates' code.
"""
