"""testsupport: CPython's socket test helpers, installable, for Python 2.7 and 3.6-3.13.

The most used names are importable from here (``from testsupport import
find_unused_port, bind_port, HOST``); the complete mirror of CPython's
``test.support.socket_helper`` is :mod:`testsupport.socket_helper`.
"""
from __future__ import absolute_import, division, print_function

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
    'ResourceDenied',
    'TestFailed',
    'bind_port',
    'bind_unix_socket',
    'create_unix_domain_name',
    'find_unused_port',
    'get_socket_conn_refused_errs',
    'is_resource_enabled',
    'requires',
    'skip_if_tcp_blackhole',
    'skip_unless_bind_unix_socket',
    'transient_internet',
]
