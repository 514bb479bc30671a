import socket
from typing import ContextManager, Optional

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
