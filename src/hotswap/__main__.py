"""``python -m hotswap``: the command line (argument parsing and dispatch
in ``hotswap.cli``, the program runner in ``hotswap._runmain``, reload lines
and events in ``hotswap.events``)."""
from hotswap.cli import _entry, main

__all__ = ["main"]

if __name__ == "__main__":
    _entry()
