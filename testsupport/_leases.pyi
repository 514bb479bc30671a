from typing import Any, Callable, List, Mapping, Optional

from .platform_shim import Platform

BACKEND_ENV_VAR: str

class PortRegistryWarning(RuntimeWarning): ...
