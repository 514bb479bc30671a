import subprocess
from typing import Any, Callable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from .platform_shim import Platform

__all__ = [
    "ServerProcess",
    "ServerStartError",
    "start_server_process",
]

class ServerStartError(RuntimeError): ...

class ServerProcess:
    argv: List[str]
    mode: str
    host: str
    port: Optional[int]
    process: Optional[Any]  # a SupervisedProcess (private), or a Popen on Windows
    stop_timeout: float
    def __init__(self, argv: Sequence[str], mode: str, host: str, port: Optional[int],
                 stop_timeout: float, platform: Platform) -> None: ...
    @property
    def address(self) -> Tuple[str, Optional[int]]: ...
    @property
    def pid(self) -> Optional[int]: ...
    @property
    def returncode(self) -> Optional[int]: ...
    @property
    def stdout(self) -> str: ...
    @property
    def stderr(self) -> str: ...
    def __iter__(self) -> Iterator[Union[str, int]]: ...
    def __enter__(self) -> ServerProcess: ...
    def __exit__(self, *exc_info: Any) -> None: ...
    def stop(self, timeout: Optional[float] = ...) -> Optional[int]: ...

def start_server_process(argv: Sequence[str], mode: str = ..., host: Optional[str] = ...,
                         family: int = ..., env: Optional[Mapping[str, str]] = ...,
                         cwd: Optional[str] = ..., timeout: Optional[float] = ...,
                         stop_timeout: float = ...,
                         choose_port: Optional[Callable[[List[Tuple[str, int]]], Optional[int]]]
                         = ...) -> ServerProcess: ...
