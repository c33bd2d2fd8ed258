"""Start a command with resource limits: how a grading kernel gets its memory limit.

    python -m tito.limits --memory-mb 4096 -- python -m ipykernel_launcher -f conn.json

Sets RLIMIT_AS (the address space: an allocation past it raises MemoryError instead of taking the
machine) and replaces itself with the command, which keeps the limit, as does every process it
starts: the notebook's kernel and the pytest runs of its graded cells. The grading kernel manager
(`tito.classroom.LimitedKernelManager`) puts this in front of the kernel's command.
"""
from __future__ import annotations

import os
import resource
import sys


def main(argv: list[str]) -> None:
    memory_mb = 0
    while argv and argv[0] != "--":
        option = argv.pop(0)
        if option.startswith("--memory-mb="):
            memory_mb = int(option.split("=", 1)[1])
        elif option == "--memory-mb":
            memory_mb = int(argv.pop(0))
        else:
            raise SystemExit(f"tito.limits: unknown option {option}")
    command = argv[1:]
    if not command:
        raise SystemExit("usage: python -m tito.limits [--memory-mb N] -- COMMAND ...")
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
