"""A program that forks after start-up, run under ``python -m hotswap run``
by tests/test_cli_output.py: parent and child each wait until helper.v()
returns 2 (the test saves it), and print what they see.

Usage: fork_child.py DIR   (DIR holds helper.py; ready-* files are made
there when each process waits)."""
import os
import sys
import time

import helper

DIR = sys.argv[1]
pid = os.fork()
who = "child" if pid == 0 else "parent"
open(os.path.join(DIR, f"ready-{who}"), "w").close()
end = time.monotonic() + 20
while helper.v() == 1 and time.monotonic() < end:
    time.sleep(0.02)
# one write(2) of the whole line: the two processes share the pipe
os.write(1, f"{who} {os.getpid()} {helper.v()}\n".encode())
if pid == 0:
    os._exit(0)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
