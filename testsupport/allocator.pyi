from typing import ContextManager, Optional

__all__ = [
    "BACKEND_ENV_VAR",
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

BACKEND_ENV_VAR: str
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
