"""testsupport: CPython's socket test helpers, installable, for Python 2.7, 3.6-3.15 and PyPy 3.

The most used names are importable from here (``from testsupport import
find_unused_port, bind_port, HOST``); the complete mirror of CPython's
``test.support.socket_helper`` is :mod:`testsupport.socket_helper`. Leases
(``reserve_port``) come from :mod:`testsupport.allocator`, the TestCase mixin
from :mod:`testsupport.mixin`, the waits from :mod:`testsupport.servers`.
"""
from __future__ import absolute_import, division, print_function

from .allocator import (
    NoFreePortError,
    PortRegistryWarning,
    release_port,
    reserve_port,
    reserved_port,
)
from .mixin import SocketTestMixin
from .servers import WaitTimeoutError, wait_for_port, wait_for_port_free
from .socket_helper import (
    HOST,
    HOSTv4,
    HOSTv6,
    IPV6_ENABLED,
    bind_port,
    bind_unix_socket,
    create_unix_domain_name,
    find_unused_port,
    get_socket_conn_refused_errs,
    skip_if_tcp_blackhole,
    skip_unless_bind_unix_socket,
    transient_internet,
)
from .support import ResourceDenied, TestFailed, is_resource_enabled, requires

__version__ = '0.1.0'

__all__ = [
    'HOST',
    'HOSTv4',
    'HOSTv6',
    'IPV6_ENABLED',
    'NoFreePortError',
    'PortRegistryWarning',
    'ResourceDenied',
    'SocketTestMixin',
    'TestFailed',
    'WaitTimeoutError',
    'bind_port',
    'bind_unix_socket',
    'create_unix_domain_name',
    'find_unused_port',
    'get_socket_conn_refused_errs',
    'is_resource_enabled',
    'release_port',
    'requires',
    'reserve_port',
    'reserved_port',
    'skip_if_tcp_blackhole',
    'skip_unless_bind_unix_socket',
    'transient_internet',
    'wait_for_port',
    'wait_for_port_free',
]
