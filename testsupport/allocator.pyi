import socket
from typing import ContextManager, Optional

__all__ = [
    "BLOCK_SIZE",
    "DEFAULT_LEASE_SECONDS",
    "LEASE_ENV_VAR",
    "NoFreePortError",
    "PortRegistryWarning",
    "RANGE_ENV_VAR",
    "REGISTRY_ENV_VAR",
    "STRATEGY_ENV_VAR",
    "release_port",
    "reserve_port",
    "reserved_port",
]

BLOCK_SIZE: int
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
