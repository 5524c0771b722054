"""hotswap: in-place hot reload for CPython (placeholder)."""
from . import _core  # noqa: F401
