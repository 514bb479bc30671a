"""testsupport: CPython's socket test helpers, installable, for Python 2.7, 3.6-3.15 and PyPy 3.

The most used names are importable from here (``from testsupport import
find_unused_port, bind_port, HOST``), with every socket-related name of 2.7's
``test_support`` and 3.6-3.8's ``test.support``, so that ``import testsupport as
support`` replaces those modules in a suite; the complete mirror of CPython's
``test.support.socket_helper`` is :mod:`testsupport.socket_helper`. Leases
(``reserve_port``) come from :mod:`testsupport.allocator`, the TestCase mixin
from :mod:`testsupport.mixin`, the waits from :mod:`testsupport.servers`, servers in child processes from
:mod:`testsupport.server_process`.
"""
from __future__ import absolute_import, division, print_function

# A light import: ``import testsupport`` loads no module that ``import unittest,
# socket`` has not loaded already, except these (tests/test_import.py reads this
# list and checks it on every interpreter):
#   __future__   -- the first line of every module (2.7 compatibility)
#   atexit       -- leases and socket directories are given back at exit
#   threading    -- the allocator's lock, created at import; server threads
#   contextlib   -- reserved_port() and transient_internet() are context managers
#   math         -- isnan()/isinf() checks of timeouts and lease times
# Everything heavier (subprocess, tempfile, shutil, random, hashlib, urllib,
# socketserver, ctypes, select, struct, argparse, json) is imported by the
# function that needs it, on first use.

from .allocator import (
    NoFreePortError,
    PortRegistryWarning,
    release_port,
    reserve_port,
    reserved_port,
)
from .mixin import SocketTestMixin
from .server_process import ServerProcess, ServerStartError, start_server_process
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

# Migration (#9): with these, ``import testsupport as support`` (or ``as
# test_support``) offers every socket-related name of 2.7's ``test_support`` and
# 3.6-3.8's ``test.support``, every name of ``socket_helper``, and the timeouts
# 3.9+ suites read from ``test.support``. tests/test_migration.py pins the list.
from .socket_helper import can_bind_unix_socket, has_gethostname, tcp_blackhole
from .support import (
    INTERNET_TIMEOUT,
    LONG_TIMEOUT,
    LOOPBACK_TIMEOUT,
    SHORT_TIMEOUT,
    SOCK_MAX_SIZE,
)

__version__ = '0.1.0'

__all__ = [
    'HOST',
    'HOSTv4',
    'HOSTv6',
    'INTERNET_TIMEOUT',
    'IPV6_ENABLED',
    'LONG_TIMEOUT',
    'LOOPBACK_TIMEOUT',
    'NoFreePortError',
    'PortRegistryWarning',
    'ResourceDenied',
    'SHORT_TIMEOUT',
    'SOCK_MAX_SIZE',
    'ServerProcess',
    'ServerStartError',
    'SocketTestMixin',
    'TestFailed',
    'WaitTimeoutError',
    'bind_port',
    'bind_unix_socket',
    'can_bind_unix_socket',
    'create_unix_domain_name',
    'find_unused_port',
    'get_socket_conn_refused_errs',
    'has_gethostname',
    'is_resource_enabled',
    'release_port',
    'requires',
    'reserve_port',
    'reserved_port',
    'skip_if_tcp_blackhole',
    'skip_unless_bind_unix_socket',
    'start_server_process',
    'tcp_blackhole',
    'transient_internet',
    'wait_for_port',
    'wait_for_port_free',
]
