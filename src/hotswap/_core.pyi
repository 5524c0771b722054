"""Type stubs for hotswap._core, the C core of hotswap."""
import os
from types import ModuleType
from typing import Any, Callable, Dict, Iterable, Optional, Tuple, Union

_Policy = Callable[[str, str, Any, Any], bool]

class ReloadError(Exception):
    report: Optional["Report"]
    module: Optional[str]
    filename: Optional[str]
    lineno: Optional[int]
    code: Optional[str]

class Change(Tuple[Any, ...]):
    module: str
    name: str
    kind: str
    action: str
    code: Optional[str]
    reason: Optional[str]
    filename: Optional[str]
    lineno: Optional[int]

class ModuleResult(Tuple[Any, ...]):
    name: str
    filename: Optional[str]
    status: str
    seconds: float

class Report:
    entries: Tuple[Change, ...]
    modules: Tuple[ModuleResult, ...]
    @property
    def ok(self) -> bool: ...
    @property
    def changed(self) -> bool: ...
    @property
    def rejected(self) -> Tuple[Change, ...]: ...
    @property
    def seconds(self) -> float: ...
    def to_dict(self) -> Dict[str, Any]: ...
    def to_json(self) -> str: ...
    def find(self, name: str, module: Optional[str] = ...) -> Tuple[Change, ...]: ...

class Snapshot:
    @property
    def source(self) -> bytes: ...

snapshots: Dict[str, Snapshot]

def reload(*modules: Union[ModuleType, str], policy: Optional[_Policy] = ...) -> Report: ...
def patch(target: Any, replacement: Any, /) -> Report: ...
def track(*targets: Union[str, "os.PathLike[str]"]) -> None: ...
def untrack(*targets: Union[str, "os.PathLike[str]"]) -> None: ...
def tracked() -> list[str]: ...
def snapshot(module: Union[ModuleType, str], /) -> None: ...
def route_importlib(enable: bool, /) -> None: ...
