import unittest
from typing import Container, Optional, Tuple, Union

__all__ = [
    "Error",
    "INTERNET_TIMEOUT",
    "LONG_TIMEOUT",
    "LOOPBACK_TIMEOUT",
    "RESOURCE_NAMES",
    "ResourceDenied",
    "SHORT_TIMEOUT",
    "SOCK_MAX_SIZE",
    "TestFailed",
    "USE_ENV_VAR",
    "is_resource_enabled",
    "requires",
    "use_resources",
    "verbose",
]

INTERNET_TIMEOUT: float
LONG_TIMEOUT: float
LOOPBACK_TIMEOUT: float
RESOURCE_NAMES: Tuple[str, ...]
SHORT_TIMEOUT: float
SOCK_MAX_SIZE: int
USE_ENV_VAR: str
verbose: int
use_resources: Optional[Container[str]]

class Error(Exception): ...
class TestFailed(Error):
    __test__: bool  # False: pytest must not collect it as a test class
class ResourceDenied(unittest.SkipTest): ...

def is_resource_enabled(resource: str) -> bool: ...
def requires(resource: str, msg: Optional[str] = ...) -> None: ...
