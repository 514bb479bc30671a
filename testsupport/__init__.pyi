from .allocator import (
    NoFreePortError as NoFreePortError,
    PortRegistryWarning as PortRegistryWarning,
    release_port as release_port,
    reserve_port as reserve_port,
    reserved_port as reserved_port,
)
from .mixin import SocketTestMixin as SocketTestMixin
from .servers import (
    ServerProcess as ServerProcess,
    ServerStartError as ServerStartError,
    WaitTimeoutError as WaitTimeoutError,
    start_server_process as start_server_process,
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

__version__: str
