from .allocator import (
    NoFreePortError as NoFreePortError,
    PortRegistryWarning as PortRegistryWarning,
    release_port as release_port,
    reserve_port as reserve_port,
    reserved_port as reserved_port,
)
from .mixin import SocketTestMixin as SocketTestMixin
from .server_process import (
    ServerProcess as ServerProcess,
    ServerStartError as ServerStartError,
    start_server_process as start_server_process,
)
from .servers import (
    WaitTimeoutError as WaitTimeoutError,
    wait_for_port as wait_for_port,
    wait_for_port_free as wait_for_port_free,
)
from .socket_helper import (
    HOST as HOST,
    HOSTv4 as HOSTv4,
    HOSTv6 as HOSTv6,
    IPV6_ENABLED as IPV6_ENABLED,
    bind_port as bind_port,
    bind_unix_socket as bind_unix_socket,
    create_unix_domain_name as create_unix_domain_name,
    find_unused_port as find_unused_port,
    get_socket_conn_refused_errs as get_socket_conn_refused_errs,
    skip_if_tcp_blackhole as skip_if_tcp_blackhole,
    skip_unless_bind_unix_socket as skip_unless_bind_unix_socket,
    transient_internet as transient_internet,
)
from .support import (
    ResourceDenied as ResourceDenied,
    TestFailed as TestFailed,
    is_resource_enabled as is_resource_enabled,
    requires as requires,
)

# Migration (#9): the socket-related names of test_support / test.support.
from .socket_helper import (
    can_bind_unix_socket as can_bind_unix_socket,
    has_gethostname as has_gethostname,
    tcp_blackhole as tcp_blackhole,
)
from .support import (
    INTERNET_TIMEOUT as INTERNET_TIMEOUT,
    LONG_TIMEOUT as LONG_TIMEOUT,
    LOOPBACK_TIMEOUT as LOOPBACK_TIMEOUT,
    SHORT_TIMEOUT as SHORT_TIMEOUT,
    SOCK_MAX_SIZE as SOCK_MAX_SIZE,
)

__version__: str

__all__ = [
    "HOST",
    "HOSTv4",
    "HOSTv6",
    "INTERNET_TIMEOUT",
    "IPV6_ENABLED",
    "LONG_TIMEOUT",
    "LOOPBACK_TIMEOUT",
    "NoFreePortError",
    "PortRegistryWarning",
    "ResourceDenied",
    "SHORT_TIMEOUT",
    "SOCK_MAX_SIZE",
    "ServerProcess",
    "ServerStartError",
    "SocketTestMixin",
    "TestFailed",
    "WaitTimeoutError",
    "bind_port",
    "bind_unix_socket",
    "can_bind_unix_socket",
    "create_unix_domain_name",
    "find_unused_port",
    "get_socket_conn_refused_errs",
    "has_gethostname",
    "is_resource_enabled",
    "release_port",
    "requires",
    "reserve_port",
    "reserved_port",
    "skip_if_tcp_blackhole",
    "skip_unless_bind_unix_socket",
    "start_server_process",
    "tcp_blackhole",
    "transient_internet",
    "wait_for_port",
    "wait_for_port_free",
]
