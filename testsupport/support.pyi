import unittest
from typing import Container, Optional, Union

INTERNET_TIMEOUT: float
LONG_TIMEOUT: float
LOOPBACK_TIMEOUT: float
SHORT_TIMEOUT: float
SOCK_MAX_SIZE: int
USE_ENV_VAR: str
verbose: int
use_resources: Optional[Container[str]]

class Error(Exception): ...
class TestFailed(Error): ...
class ResourceDenied(unittest.SkipTest): ...

def is_resource_enabled(resource: str) -> bool: ...
def requires(resource: str, msg: Optional[str] = ...) -> None: ...
