import socket
from typing import Callable, ContextManager, Iterable, List, Optional, TypeVar, Union

__all__ = [
    "HOST",
    "HOSTv4",
    "HOSTv6",
    "IPV6_ENABLED",
    "bind_port",
    "bind_unix_socket",
    "can_bind_unix_socket",
    "create_unix_domain_name",
    "find_unused_port",
    "get_socket_conn_refused_errs",
    "has_gethostname",
    "skip_if_tcp_blackhole",
    "skip_unless_bind_unix_socket",
    "tcp_blackhole",
    "transient_internet",
]

_T = TypeVar('_T')
_Address = Union[str, bytes]

HOST: str
HOSTv4: str
HOSTv6: str
IPV6_ENABLED: bool
has_gethostname: bool

def bind_port(sock: socket.socket, host: str = ...) -> int: ...
def bind_unix_socket(sock: socket.socket, addr: _Address) -> None: ...
def can_bind_unix_socket() -> bool: ...
def create_unix_domain_name() -> str: ...
def find_unused_port(family: int = ..., socktype: int = ...) -> int: ...
def get_socket_conn_refused_errs() -> List[int]: ...
def skip_if_tcp_blackhole(test: _T) -> _T: ...
def skip_unless_bind_unix_socket(test: _T) -> _T: ...
def tcp_blackhole() -> bool: ...
def transient_internet(resource_name: str, timeout: Optional[float] = ...,
                       errnos: Iterable[int] = ...) -> ContextManager[None]: ...
