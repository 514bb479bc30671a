import socket
from typing import Any, ContextManager, List, Mapping, Optional, Tuple, Union


from .platform_shim import Platform

__all__ = [
    "BACKEND_ENV_VAR",
    "BLOCK_SIZE",
    "DEFAULT_LEASE_SECONDS",
    "LEASE_ENV_VAR",
    "MAX_LEASE_SECONDS",
    "NoFreePortError",
    "PortRegistryWarning",
    "RANGE_ENV_VAR",
    "REGISTRY_ENV_VAR",
    "STRATEGY_ENV_VAR",
    "describe",
    "lease_detached_ports",
    "lease_port",
    "parse_lease",
    "release_detached_ports",
    "release_port",
    "reserve_port",
    "reserved_port",
]

BACKEND_ENV_VAR: str
BLOCK_SIZE: int
MAX_LEASE_SECONDS: float
DEFAULT_LEASE_SECONDS: float
LEASE_ENV_VAR: str
RANGE_ENV_VAR: str
REGISTRY_ENV_VAR: str
STRATEGY_ENV_VAR: str

class NoFreePortError(OSError): ...
class PortRegistryWarning(RuntimeWarning): ...

def reserve_port(family: int = ..., socktype: int = ..., host: Optional[str] = ...) -> int: ...
def release_port(port: int) -> None: ...
def reserved_port(family: int = ..., socktype: int = ...,
                  host: Optional[str] = ...) -> ContextManager[int]: ...
def describe(environ: Optional[Mapping[str, str]] = ...) -> List[Tuple[str, Any]]: ...
def lease_port(family: int, socktype: int, host: Optional[str], caller: str, platform: Platform,
               reserved: bool = ..., never_fail: bool = ...,
               environ: Optional[Mapping[str, str]] = ...) -> int: ...
def parse_lease(value: Any, what: str = ...) -> float: ...
def lease_detached_ports(count: int, family: int, socktype: int, lease_seconds: Optional[float] = ...,
                         environ: Optional[Mapping[str, str]] = ...) -> Tuple[List[int], Any]: ...
def release_detached_ports(ports: List[int], environ: Optional[Mapping[str, str]] = ...) -> List[int]: ...
