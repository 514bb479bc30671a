import socket
from types import ModuleType
from typing import Any, Callable, Dict, List, Optional, Mapping, Tuple, Union

__all__ = [
    "FREEBSD",
    "LINUX",
    "MACOS",
    "Platform",
    "WINDOWS",
    "current",
    "detect",
]

_Run = Callable[[List[str]], Tuple[Optional[int], str]]

class Platform:
    name: str
    sol_socket: int
    so_reuseaddr: Optional[int]
    so_reuseport: Optional[int]
    so_exclusiveaddruse: Optional[int]
    sock_type_flags: int
    af_unix: Optional[int]
    sun_path_max: int
    errnos: Dict[str, int]
    gai_errnos: Dict[str, int]
    ephemeral_source: str
    ephemeral_default: Tuple[int, int]
    ephemeral_sysctls: Optional[Tuple[str, str]]
    ephemeral_path: Optional[str]
    blackhole_sysctl: Optional[str]
    has_gethostname: bool
    lease_store: str
    so_peercred: Optional[int]
    port_table: Optional[str]
    port_discovery: str
    process_groups: bool
    file_locking: str
    process_table: Optional[str]
    registry_home: str
    dir_privacy: str
    process_containment: str
    def __init__(self, **fields: Any) -> None: ...
    def replace(self, **changes: Any) -> Platform: ...
    def errno_of(self, exc: BaseException) -> Optional[int]: ...
    def is_errno(self, exc: BaseException, *names: str) -> bool: ...
    def is_address_taken(self, exc: BaseException) -> bool: ...
    def is_permission_error(self, exc: BaseException) -> bool: ...
    def is_family_mismatch(self, exc: BaseException) -> bool: ...
    def is_fd_exhausted(self, exc: BaseException) -> bool: ...
    def conn_refused_errnos(self, ipv6_enabled: bool) -> List[int]: ...
    def transient_errnos(self) -> List[int]: ...
    def transient_gai_errnos(self) -> List[int]: ...
    def socket_type(self, sock: socket.socket) -> int: ...
    def reuse_options_set(self, sock: socket.socket) -> List[str]: ...
    def make_exclusive(self, sock: socket.socket) -> None: ...
    def ephemeral_port_range(self, read_file: Optional[Callable[[str], Optional[str]]] = ...,
                             run: Optional[_Run] = ...) -> Tuple[int, int]: ...
    def tcp_blackhole(self, run: Optional[_Run] = ...) -> bool: ...

FREEBSD: Platform
LINUX: Platform
MACOS: Platform
WINDOWS: Platform

def current() -> Platform: ...
def detect(sys_platform: str, socket_module: Any, errno_module: Any = ...) -> Platform: ...
