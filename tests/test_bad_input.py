"""Bad input to every public surface: a clear error, no leaked descriptor or socket.

Each row is one bad call, the exception type it must raise (exactly) and the
texts its message must contain: the argument or variable, the value, the fix.
Every row also checks that no descriptor was left open, that no
ResourceWarning was issued, and that the message has no Python-2-only
spelling (``u'...'``, ``<type ...>``), so that one table holds on 2.7 and 3.x.
Each area's rows run in one test method and all failing rows are reported at
once (2.7 has no ``subTest``).

``python -m tests.test_bad_input`` prints every row's message, to compare
interpreters side by side.
"""
from __future__ import absolute_import, division, print_function

import gc
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest
import warnings

import testsupport
from testsupport import (_cli, _compat, allocator, mixin, platform_shim, servers, socket_helper,
                         support)
from tests.fakes import FakeSocket
from tests.helpers import socketserver
from tests import helpers

NAN = float('nan')
INF = float('inf')
#: A TEST-NET-1 address (RFC 5737): never assigned to this machine, never routed.
TEST_NET = '192.0.2.1'
#: RFC 6761: names under .invalid never resolve; the resolver answers locally.
INVALID_HOST = 'nonexistent.invalid'
_PY2_SPELLINGS = re.compile(r"(\bu'|<type '|<class ')")
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Row(object):
    """One bad call: ``call(ctx)``, the exception type, the texts its message contains.

    *env* holds environment variables set for the call only; *warnings_as_errors*
    runs it as under ``-W error``.
    """

    def __init__(self, name, call, error, texts, env=None, warnings_as_errors=False):
        self.name, self.call, self.error, self.texts = name, call, error, texts
        self.env = env or {}
        self.warnings_as_errors = warnings_as_errors


class Context(object):
    """What a row needs besides the bad value; all of it is closed after the row."""

    def __init__(self, directory):
        self.directory = directory
        self.fds = set()
        self._closers = []

    def _keep(self, obj, close):
        self._closers.append(close)
        return obj

    def sock(self, family=socket.AF_INET, type=socket.SOCK_STREAM, proto=0):
        sock = self._keep(socket.socket(family, type, proto), None)
        self._closers[-1] = sock.close
        self.fds.add(str(sock.fileno()))
        return sock

    def closed_sock(self):
        sock = socket.socket()
        sock.close()
        return sock

    def bound_sock(self, family=socket.AF_INET):
        sock = self.sock(family)
        sock.bind((socket_helper.HOSTv6 if family == socket.AF_INET6 else socket_helper.HOST, 0))
        return sock

    def reuse_sock(self, option):
        sock = self.sock()
        sock.setsockopt(socket.SOL_SOCKET, getattr(socket, option), 1)
        return sock

    def raw_sock(self):
        """A SOCK_RAW socket: a real one as root, else a FakeSocket of that type."""
        try:
            return self.sock(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        except _compat.OS_ERRORS:
            return FakeSocket(type=socket.SOCK_RAW)

    def server(self):
        server = socketserver.TCPServer((socket_helper.HOST, 0), socketserver.BaseRequestHandler)
        self.fds.add(str(server.fileno()))
        return self._keep(server, server.server_close)

    def served(self):
        served = servers.start_server_thread(self.server())
        self._closers.append(served.stop)
        return served

    def case(self):
        case = _Case()
        return self._keep(case, case.doCleanups)

    def leased_port(self):
        port = allocator.reserve_port()
        return self._keep(port, lambda: allocator.release_port(port))

    def file(self):
        path = os.path.join(self.directory, 'a-file')
        with open(path, 'w'):
            pass
        return path

    def close(self):
        while self._closers:
            close = self._closers.pop()
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: the row's error is what matters
                    pass


class _Case(mixin.SocketTestMixin, unittest.TestCase):
    def runTest(self):
        pass


open_fds = helpers.open_fds


def ephemeral_overlap():
    """A TESTSUPPORT_PORT_RANGE inside the OS ephemeral range."""
    low = platform_shim.current().ephemeral_port_range()[0]
    return '%d-%d' % (low, low + 999)


class _Env(object):
    """Set environment variables; restore() puts the old values back."""

    def __init__(self, values):
        self.saved = dict((name, os.environ.get(name)) for name in values)
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def restore(self):
        for name, value in self.saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def base_env(directory):
    """Every row runs with a private, in-memory lease store and no resources."""
    return {allocator.REGISTRY_ENV_VAR: os.path.join(directory, 'registry'),
            allocator.BACKEND_ENV_VAR: 'memory',
            allocator.RANGE_ENV_VAR: None, allocator.LEASE_ENV_VAR: None,
            allocator.STRATEGY_ENV_VAR: None, support.USE_ENV_VAR: None}


def run_row(row, directory):
    """Run *row*; return ``(exception or None, problems)``."""
    ctx = Context(directory)
    env = dict(base_env(directory))
    env.update(row.env)
    env = _Env(env)
    problems = []
    exc = None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('error' if row.warnings_as_errors else 'always')
            before = open_fds()
            try:
                row.call(ctx)
            except Exception as err:  # the row's subject
                exc = err
            gc.collect()
            leaked = open_fds() - before - ctx.fds
        if leaked:
            problems.append('leaked descriptors %s' % sorted(leaked))
        resource = [str(w.message) for w in caught if w.category.__name__ == 'ResourceWarning']
        if resource:
            problems.append('ResourceWarning: %s' % resource)
    finally:
        ctx.close()
        env.restore()
    if exc is None:
        problems.append('raised nothing')
        return exc, problems
    message = str(exc)
    if type(exc) is not row.error:
        problems.append('raised %s, not %s' % (type(exc).__name__, row.error.__name__))
    missing = [text for text in row.texts if text not in message]
    if missing:
        problems.append('message lacks %r' % (missing,))
    if _PY2_SPELLINGS.search(message):
        problems.append('message has a Python 2 spelling')
    if problems:
        problems.append('message: %s: %s' % (type(exc).__name__, message))
    return exc, problems


class TableTestCase(unittest.TestCase):
    rows = ()

    def setUp(self):
        self.directory = tempfile.mkdtemp(prefix='tsu-bad-')
        self.addCleanup(shutil.rmtree, self.directory, True)

    def check(self, rows):
        failures = []
        for row in rows:
            _exc, problems = run_row(row, self.directory)
            if problems:
                failures.append('%s: %s' % (row.name, '; '.join(problems)))
        self.assertEqual(failures, [])


R = Row
AF_INET, AF_INET6, SOCK_STREAM, SOCK_DGRAM = (socket.AF_INET, socket.AF_INET6,
                                              socket.SOCK_STREAM, socket.SOCK_DGRAM)
AF_UNIX = getattr(socket, 'AF_UNIX', None)
HOST_FIX = "HOST ('127.0.0.1')"
gaierror, sock_error = socket.gaierror, socket.error
sh = socket_helper

SOCKET_HELPER_ROWS = [
    R('bind_port(str)', lambda c: sh.bind_port('sock'), TypeError,
      ['bind_port()', 'socket.socket', "'sock'"]),
    R('bind_port(None)', lambda c: sh.bind_port(None), TypeError,
      ['bind_port()', 'socket.socket', 'None']),
    R('bind_port(closed)', lambda c: sh.bind_port(c.closed_sock()), ValueError,
      ['bind_port()', 'closed', 'create a new socket']),
    R('bind_port(sock, 123)', lambda c: sh.bind_port(c.sock(), 123), TypeError,
      ['bind_port()', 'host', '123', HOST_FIX]),
    R('bind_port(sock, 1.5)', lambda c: sh.bind_port(c.sock(), 1.5), TypeError,
      ['bind_port()', 'host', '1.5', HOST_FIX]),
    R('bind_port(already bound)', lambda c: sh.bind_port(c.bound_sock()), sock_error,
      ['bind_port()', 'already bound to 127.0.0.1:', 'pass a new, unbound socket']),
    R('bind_port(non-local host)', lambda c: sh.bind_port(c.sock(), TEST_NET), sock_error,
      ['bind_port()', TEST_NET, 'not an address of this machine', HOST_FIX]),
    R('bind_port(ipv6 sock, HOSTv4)', lambda c: sh.bind_port(c.sock(AF_INET6), sh.HOSTv4),
      gaierror, ['bind_port()', "'127.0.0.1'", 'AF_INET6', 'create the socket with '
                 'socket.AF_INET', "HOSTv6 ('::1')"]),
    R('bind_port(ipv6 sock, 10.0.0.1)', lambda c: sh.bind_port(c.sock(AF_INET6), '10.0.0.1'),
      gaierror, ['bind_port()', "'10.0.0.1' is an IPv4 address", 'AF_INET6', 'socket.AF_INET']),
    R('bind_port(ipv4 sock, ::1)', lambda c: sh.bind_port(c.sock(), '::1'), gaierror,
      ['bind_port()', "'::1' is an IPv6 address", 'AF_INET', 'socket.AF_INET6', HOST_FIX]),
    R('bind_port(unresolvable)', lambda c: sh.bind_port(c.sock(), INVALID_HOST), gaierror,
      ['bind_port()', 'cannot resolve host', repr(INVALID_HOST), HOST_FIX]),
    R('bind_port(AF_UNIX)', lambda c: sh.bind_port(c.sock(AF_UNIX)), ValueError,
      ['bind_port()', 'AF_UNIX has no ports', 'bind_unix_socket()']),
    R('bind_port(SOCK_RAW)', lambda c: sh.bind_port(c.raw_sock()), ValueError,
      ['bind_port()', 'socket type 3', 'SOCK_STREAM (TCP) or SOCK_DGRAM (UDP)']),
    R('bind_port(SO_REUSEADDR)', lambda c: sh.bind_port(c.reuse_sock('SO_REUSEADDR')),
      support.TestFailed, ['bind_port()', 'SO_REUSEADDR is set', 'remove the setsockopt()']),
    R('bind_port(SO_REUSEPORT)', lambda c: sh.bind_port(c.reuse_sock('SO_REUSEPORT')),
      support.TestFailed, ['bind_port()', 'SO_REUSEPORT is set', 'remove the setsockopt()']),
    R('find_unused_port(AF_INET, None)', lambda c: sh.find_unused_port(AF_INET, None),
      TypeError, ['find_unused_port()', 'socktype', 'None', 'socket.SOCK_STREAM']),
    R('find_unused_port(None)', lambda c: sh.find_unused_port(None), TypeError,
      ['find_unused_port()', 'family', 'None', 'socket.AF_INET']),
    R("find_unused_port('AF_INET')", lambda c: sh.find_unused_port('AF_INET'), TypeError,
      ['find_unused_port()', 'family', "'AF_INET'", 'socket.AF_INET']),
    R('find_unused_port(True)', lambda c: sh.find_unused_port(True), TypeError,
      ['find_unused_port()', 'family', 'bool True']),
    R('find_unused_port(AF_UNIX)', lambda c: sh.find_unused_port(AF_UNIX), ValueError,
      ['find_unused_port()', 'AF_UNIX has no ports', 'create_unix_domain_name()']),
    R('find_unused_port(999)', lambda c: sh.find_unused_port(999), ValueError,
      ['find_unused_port()', 'family 999 has no ports', 'socket.AF_INET']),
    R('find_unused_port(AF_INET, SOCK_RAW)',
      lambda c: sh.find_unused_port(AF_INET, socket.SOCK_RAW), ValueError,
      ['find_unused_port()', 'socket type 3', 'socket.SOCK_STREAM (TCP)']),
    R("find_unused_port(AF_INET, 'tcp')", lambda c: sh.find_unused_port(AF_INET, 'tcp'),
      TypeError, ['find_unused_port()', 'socktype', "'tcp'", 'socket.SOCK_STREAM']),
    R('bind_unix_socket(str, path)', lambda c: sh.bind_unix_socket('s', '/x'), TypeError,
      ['bind_unix_socket()', 'socket.socket', "'s'"]),
    R('bind_unix_socket(inet sock)', lambda c: sh.bind_unix_socket(c.sock(), '/x'), ValueError,
      ['bind_unix_socket()', 'AF_UNIX socket, got AF_INET', 'bind_port()']),
    R('bind_unix_socket(closed)', lambda c: sh.bind_unix_socket(c.closed_sock(), '/x'),
      ValueError, ['bind_unix_socket()', 'closed', 'create a new socket']),
    R('bind_unix_socket(sock, None)', lambda c: sh.bind_unix_socket(c.sock(AF_UNIX), None),
      TypeError, ['bind_unix_socket()', 'addr', 'None', 'create_unix_domain_name()']),
    R('bind_unix_socket(sock, 5)', lambda c: sh.bind_unix_socket(c.sock(AF_UNIX), 5),
      TypeError, ['bind_unix_socket()', 'addr', 'int 5', 'create_unix_domain_name()']),
    R("transient_internet(timeout='x')",
      lambda c: sh.transient_internet('network', 'x').__enter__(), TypeError,
      ['transient_internet()', 'timeout', "'x'", 'number of seconds']),
    R('transient_internet(timeout=nan)',
      lambda c: sh.transient_internet('network', NAN).__enter__(), ValueError,
      ['transient_internet()', 'timeout', 'nan', 'or None to leave it unchanged']),
    R('transient_internet(timeout=-1)',
      lambda c: sh.transient_internet('network', timeout=-1).__enter__(), ValueError,
      ['transient_internet()', 'timeout', '-1', 'e.g. 5.0']),
]

TOP_LEVEL_ROWS = [
    R("testsupport.bind_port(sock, ['::1'])",
      lambda c: testsupport.bind_port(c.sock(), ['::1']), TypeError,
      ['bind_port()', 'host must be a str', "list ['::1']"]),
    R('testsupport.find_unused_port(AF_INET6, None)',
      lambda c: testsupport.find_unused_port(AF_INET6, None), TypeError,
      ['find_unused_port()', 'socktype', 'None']),
    R('testsupport.reserve_port(host=1)', lambda c: testsupport.reserve_port(host=1), TypeError,
      ['reserve_port()', 'host', 'int 1', HOST_FIX]),
    R('testsupport.release_port(None)', lambda c: testsupport.release_port(None), TypeError,
      ['release_port()', 'port', 'None', 'reserve_port() returned']),
    R('testsupport.wait_for_port(None)', lambda c: testsupport.wait_for_port(None), TypeError,
      ['wait_for_port()', 'port', 'None', '1..65535']),
    R('testsupport.wait_for_port_free(0)', lambda c: testsupport.wait_for_port_free(0),
      ValueError, ['wait_for_port_free()', 'port', 'got 0', 'bind_port()']),
    R('testsupport.requires(None)', lambda c: testsupport.requires(None), TypeError,
      ['requires()', 'resource', 'None', "'network'"]),
    R('testsupport.is_resource_enabled(1)', lambda c: testsupport.is_resource_enabled(1),
      TypeError, ['is_resource_enabled()', 'resource', 'int 1', "'network'"]),
    R('testsupport.bind_unix_socket(inet sock)',
      lambda c: testsupport.bind_unix_socket(c.sock(AF_INET6), '/x'), ValueError,
      ['bind_unix_socket()', 'got AF_INET6', 'bind_port()']),
]

ALLOCATOR_ROWS = [
    R('reserve_port(None)', lambda c: allocator.reserve_port(None), TypeError,
      ['reserve_port()', 'family', 'None', 'socket.AF_INET']),
    R('reserve_port(AF_UNIX)', lambda c: allocator.reserve_port(AF_UNIX), ValueError,
      ['reserve_port()', 'AF_UNIX has no ports', 'create_unix_domain_name()']),
    R('reserve_port(AF_INET, SOCK_RAW)',
      lambda c: allocator.reserve_port(AF_INET, socket.SOCK_RAW), ValueError,
      ['reserve_port()', 'socket type 3', 'SOCK_STREAM']),
    R('reserve_port(AF_INET, None)', lambda c: allocator.reserve_port(AF_INET, None),
      TypeError, ['reserve_port()', 'socktype', 'None', 'socket.SOCK_STREAM']),
    R('reserve_port(host=[])', lambda c: allocator.reserve_port(host=[]), TypeError,
      ['reserve_port()', 'host', 'list []', HOST_FIX]),
    R("reserve_port(host='::1')", lambda c: allocator.reserve_port(host='::1'), gaierror,
      ['reserve_port()', "'::1' is an IPv6 address", 'socket.AF_INET6']),
    R("reserve_port(host='::1'), strategy ephemeral",
      lambda c: allocator.reserve_port(host='::1'), gaierror,
      ['reserve_port()', "'::1' is an IPv6 address", 'socket.AF_INET6'],
      env={allocator.STRATEGY_ENV_VAR: 'ephemeral'}),
    R("reserve_port(host='::1'), range kernel",
      lambda c: allocator.reserve_port(host='::1'), gaierror,
      ['reserve_port()', "'::1' is an IPv6 address", 'socket.AF_INET6'],
      env={allocator.RANGE_ENV_VAR: 'kernel'}),
    R('reserve_port(AF_INET6, host=HOSTv4)',
      lambda c: allocator.reserve_port(AF_INET6, host=sh.HOSTv4), gaierror,
      ['reserve_port()', "'127.0.0.1' is an IPv4 address", 'socket.AF_INET']),
    R('reserve_port(non-local host)', lambda c: allocator.reserve_port(host=TEST_NET),
      sock_error, ['reserve_port()', TEST_NET, 'not an address of this machine', HOST_FIX]),
    R('reserve_port(unresolvable host)', lambda c: allocator.reserve_port(host=INVALID_HOST),
      gaierror, ['reserve_port()', repr(INVALID_HOST), 'cannot resolve', HOST_FIX]),
    R("release_port('1')", lambda c: allocator.release_port('1'), TypeError,
      ['release_port()', 'port', "str '1'", 'reserve_port() returned']),
    R('release_port(True)', lambda c: allocator.release_port(True), TypeError,
      ['release_port()', 'port', 'bool True']),
    R('release_port(1.0)', lambda c: allocator.release_port(1.0), TypeError,
      ['release_port()', 'port', 'float 1.0']),
    R('release_port(70000)', lambda c: allocator.release_port(70000), ValueError,
      ['release_port()', 'port 70000', 'not leased by this process', 'reserve_port() returned']),
    R('release_port(never leased, same block)',
      lambda c: allocator.release_port(c.leased_port() ^ 1), ValueError,
      ['release_port()', 'not leased by this process', 'reserve_port() returned']),
    R('reserved_port(AF_UNIX)', lambda c: allocator.reserved_port(AF_UNIX).__enter__(),
      ValueError, ['reserved_port()', 'AF_UNIX has no ports']),
    R('reserved_port(host=0)', lambda c: allocator.reserved_port(host=0).__enter__(),
      TypeError, ['reserved_port()', 'host', 'int 0']),
    R('reserved_port(AF_INET, None)', lambda c: allocator.reserved_port(AF_INET, None)
      .__enter__(), TypeError, ['reserved_port()', 'socktype', 'None']),
]

SERVERS_ROWS = [
    R('wait_for_port(None)', lambda c: servers.wait_for_port(None), TypeError,
      ['wait_for_port()', 'port', 'None', '1..65535']),
    R("wait_for_port('80')", lambda c: servers.wait_for_port('80'), TypeError,
      ['wait_for_port()', 'port', "str '80'"]),
    R('wait_for_port(0)', lambda c: servers.wait_for_port(0), ValueError,
      ['wait_for_port()', 'got 0', 'find_unused_port()']),
    R('wait_for_port(70000)', lambda c: servers.wait_for_port(70000), ValueError,
      ['wait_for_port()', 'got 70000', '1..65535']),
    R('wait_for_port(timeout=nan)', lambda c: servers.wait_for_port(1024, timeout=NAN),
      ValueError, ['wait_for_port()', 'timeout', 'got nan', 'None for the default']),
    R('wait_for_port(timeout=inf)', lambda c: servers.wait_for_port(1024, timeout=INF),
      ValueError, ['wait_for_port()', 'timeout', 'got inf', 'e.g. 5.0']),
    R('wait_for_port(timeout=-1)', lambda c: servers.wait_for_port(1024, timeout=-1),
      ValueError, ['wait_for_port()', 'timeout', 'got -1']),
    R("wait_for_port(timeout='1')", lambda c: servers.wait_for_port(1024, timeout='1'),
      TypeError, ['wait_for_port()', 'timeout', "str '1'", 'number of seconds']),
    R('wait_for_port(unresolvable host)',
      lambda c: servers.wait_for_port(1024, host=INVALID_HOST, timeout=5), gaierror,
      ['wait_for_port()', repr(INVALID_HOST), 'cannot resolve', HOST_FIX]),
    R('wait_for_port(host=123)', lambda c: servers.wait_for_port(1024, host=123), TypeError,
      ['wait_for_port()', 'host', 'int 123', HOST_FIX]),
    R('wait_for_port_free(None)', lambda c: servers.wait_for_port_free(None), TypeError,
      ['wait_for_port_free()', 'port', 'None']),
    R('wait_for_port_free(timeout=nan)',
      lambda c: servers.wait_for_port_free(1024, timeout=NAN), ValueError,
      ['wait_for_port_free()', 'timeout', 'got nan']),
    R('wait_for_port_free(timeout=True)',
      lambda c: servers.wait_for_port_free(1024, timeout=True), TypeError,
      ['wait_for_port_free()', 'timeout', 'bool True']),
    R('wait_for_port_free(unresolvable host)',
      lambda c: servers.wait_for_port_free(1024, host=INVALID_HOST, timeout=5), gaierror,
      ['wait_for_port_free()', repr(INVALID_HOST), 'cannot resolve', HOST_FIX]),
    R('wait_for_port_free(host=())', lambda c: servers.wait_for_port_free(1024, host=()),
      TypeError, ['wait_for_port_free()', 'host', 'tuple ()']),
    R('port_in_use(None)', lambda c: servers.port_in_use(None), TypeError,
      ['port_in_use()', 'port', 'None']),
    R('port_in_use(-1)', lambda c: servers.port_in_use(-1), ValueError,
      ['port_in_use()', 'got -1', '1..65535']),
    R('port_in_use(host=123)', lambda c: servers.port_in_use(1024, host=123), TypeError,
      ['port_in_use()', 'host', 'int 123', HOST_FIX]),
    R('port_in_use(non-local host)', lambda c: servers.port_in_use(1024, host=TEST_NET),
      sock_error, ['port_in_use()', TEST_NET, 'not an address of this machine', HOST_FIX]),
    R('port_in_use(unresolvable host)',
      lambda c: servers.port_in_use(1024, host=INVALID_HOST), gaierror,
      ['port_in_use()', repr(INVALID_HOST), 'cannot resolve', HOST_FIX]),
    R('port_in_use(family=AF_UNIX)', lambda c: servers.port_in_use(1024, family=AF_UNIX),
      ValueError, ['port_in_use()', 'AF_UNIX has no ports', 'bind_unix_socket()']),
    R('port_in_use(family=None)', lambda c: servers.port_in_use(1024, family=None),
      TypeError, ['port_in_use()', 'family', 'None', 'socket.AF_INET']),
    R('port_in_use(socktype=SOCK_RAW)',
      lambda c: servers.port_in_use(1024, socktype=socket.SOCK_RAW), ValueError,
      ['port_in_use()', 'socket type 3', 'SOCK_DGRAM (UDP)']),
    R('port_in_use(AF_INET6, HOSTv4)',
      lambda c: servers.port_in_use(1024, sh.HOSTv4, AF_INET6), gaierror,
      ['port_in_use()', "'127.0.0.1' is an IPv4 address", 'socket.AF_INET']),
    R('make_listener(AF_UNIX)', lambda c: servers.make_listener(AF_UNIX), ValueError,
      ['make_listener()', 'AF_UNIX has no ports']),
    R('make_listener(None)', lambda c: servers.make_listener(None), TypeError,
      ['make_listener()', 'family', 'None', 'socket.AF_INET']),
    R('make_listener(host=123)', lambda c: servers.make_listener(host=123), TypeError,
      ['make_listener()', 'host', 'int 123', HOST_FIX]),
    R('make_listener(non-local host)', lambda c: servers.make_listener(host=TEST_NET),
      sock_error, ['make_listener()', TEST_NET, 'not an address of this machine', HOST_FIX]),
    R('make_listener(AF_INET6, HOSTv4)',
      lambda c: servers.make_listener(AF_INET6, sh.HOSTv4), gaierror,
      ['make_listener()', "'127.0.0.1' is an IPv4 address", 'socket.AF_INET']),
    R("make_listener(backlog='x')", lambda c: servers.make_listener(backlog='x'), TypeError,
      ['make_listener()', 'backlog', "str 'x'", 'such as 5']),
    R('make_udp_socket(AF_UNIX)', lambda c: servers.make_udp_socket(AF_UNIX), ValueError,
      ['make_udp_socket()', 'AF_UNIX has no ports']),
    R("make_udp_socket(host='::1')", lambda c: servers.make_udp_socket(host='::1'), gaierror,
      ['make_udp_socket()', "'::1' is an IPv6 address", 'socket.AF_INET6']),
    R('make_udp_socket(host=1)', lambda c: servers.make_udp_socket(host=1), TypeError,
      ['make_udp_socket()', 'host', 'int 1']),
    R('start_server_thread(None)', lambda c: servers.start_server_thread(None), TypeError,
      ['start_server_thread()', 'BaseServer', 'NoneType None']),
    R("start_server_thread('x')", lambda c: servers.start_server_thread('x'), TypeError,
      ['start_server_thread()', 'TCPServer', "str 'x'"]),
    R('start_server_thread(server, nan)',
      lambda c: servers.start_server_thread(c.server(), NAN), ValueError,
      ['start_server_thread()', 'poll_interval', 'got nan']),
    R('start_server_thread(server, 0)',
      lambda c: servers.start_server_thread(c.server(), 0), ValueError,
      ['start_server_thread()', 'poll_interval', 'got 0', 'the default']),
    R("ServerThread(server, 'x')", lambda c: servers.ServerThread(c.server(), 'x'), TypeError,
      ['start_server_thread()', 'poll_interval', "str 'x'"]),
    R("ServerThread.stop(timeout='x')", lambda c: c.served().stop('x'), TypeError,
      ['ServerThread.stop()', 'timeout', "str 'x'"]),
    R('ServerThread.stop(timeout=-1)', lambda c: c.served().stop(-1), ValueError,
      ['ServerThread.stop()', 'timeout', 'got -1']),
]

MIXIN_ROWS = [
    R('mixin bind_port(str)', lambda c: c.case().bind_port('s'), TypeError,
      ['bind_port()', 'socket.socket', "'s'"]),
    R('mixin bind_port(sock, 123)', lambda c: c.case().bind_port(c.sock(), 123), TypeError,
      ['bind_port()', 'host', '123']),
    R('mixin bind_port(ipv6 sock, HOSTv4)',
      lambda c: c.case().bind_port(c.sock(AF_INET6), sh.HOSTv4), gaierror,
      ['bind_port()', "'127.0.0.1' is an IPv4 address"]),
    R('mixin find_unused_port(AF_INET, None)',
      lambda c: c.case().find_unused_port(AF_INET, None), TypeError,
      ['find_unused_port()', 'socktype', 'None']),
    R('mixin make_listener(AF_UNIX)', lambda c: c.case().make_listener(AF_UNIX), ValueError,
      ['AF_UNIX has no ports']),
    R('mixin make_udp_socket(host=123)', lambda c: c.case().make_udp_socket(host=123),
      TypeError, ['host', 'int 123']),
    R('mixin wait_for_port(None)', lambda c: c.case().wait_for_port(None), TypeError,
      ['wait_for_port()', 'port', 'None']),
    R('mixin wait_for_port(timeout=nan)',
      lambda c: c.case().wait_for_port(1024, timeout=NAN), ValueError,
      ['wait_for_port()', 'timeout', 'got nan']),
    R('mixin wait_for_port(host=5)', lambda c: c.case().wait_for_port(1024, host=5),
      TypeError, ['wait_for_port()', 'host', 'int 5']),
    R('mixin assertPortFree(None)', lambda c: c.case().assertPortFree(None), TypeError,
      ['port_in_use()', 'port', 'None']),
    R('mixin assertPortInUse(0)', lambda c: c.case().assertPortInUse(0), ValueError,
      ['port_in_use()', 'got 0']),
    R('mixin assertPortFree(family=AF_UNIX)',
      lambda c: c.case().assertPortFree(1024, family=AF_UNIX), ValueError,
      ['port_in_use()', 'AF_UNIX has no ports']),
    R('mixin assertPortInUse(host=TEST_NET)',
      lambda c: c.case().assertPortInUse(1024, host=TEST_NET), sock_error,
      ['port_in_use()', TEST_NET, 'not an address of this machine']),
    R('mixin bind_unix_socket(inet sock)',
      lambda c: c.case().bind_unix_socket(c.sock()), ValueError,
      ['bind_unix_socket()', 'AF_UNIX socket, got AF_INET']),
    R('mixin start_server_thread(None)', lambda c: c.case().start_server_thread(None),
      TypeError, ['start_server_thread()', 'NoneType None']),
    R('mixin requires(None)', lambda c: c.case().requires(None), TypeError,
      ['requires()', 'resource', 'None']),
]

SUPPORT_ROWS = [
    R('requires(None)', lambda c: support.requires(None), TypeError,
      ['requires()', 'resource', 'NoneType None', "'network'"]),
    R('requires(123)', lambda c: support.requires(123), TypeError,
      ['requires()', 'resource', 'int 123', "'network'"]),
    R("requires('')", lambda c: support.requires(''), ValueError,
      ['requires()', "resource is ''", "'network'"]),
    R('is_resource_enabled(None)', lambda c: support.is_resource_enabled(None), TypeError,
      ['is_resource_enabled()', 'resource', 'None']),
    R("is_resource_enabled(['network'])",
      lambda c: support.is_resource_enabled(['network']), TypeError,
      ['is_resource_enabled()', 'resource', "list ['network']"]),
]


def _with_range(value):
    return {allocator.RANGE_ENV_VAR: value}


def _fup(c):
    return socket_helper.find_unused_port()


def _rp(c):
    return allocator.reserve_port()


ENV_ROWS = [
    R('%s=%s' % (allocator.RANGE_ENV_VAR, value), _rp, ValueError,
      [allocator.RANGE_ENV_VAR, repr(value), 'LOW-HIGH', '"kernel"'], env=_with_range(value))
    for value in ('abc', '30000', '30000-20000', '0-100', '1-70000', '-', '20000-',
                  '20000-29999-1', '1e4-2e4')
] + [
    R('%s overlapping the ephemeral range, -W error' % allocator.RANGE_ENV_VAR, _rp,
      allocator.PortRegistryWarning,
      [allocator.RANGE_ENV_VAR, 'overlaps the OS ephemeral range', 'choose ports outside it'],
      env=_with_range(ephemeral_overlap()), warnings_as_errors=True),
] + [
    R('%s=%s' % (allocator.LEASE_ENV_VAR, value), _fup, ValueError,
      [allocator.LEASE_ENV_VAR, repr(value), 'greater than 0 and at most 86400', 'e.g. 60'],
      env={allocator.LEASE_ENV_VAR: value})
    for value in ('inf', '-inf', 'nan', '1e400', '-1', '0', '86401', '1e9', 'abc', '60s')
] + [
    R('%s=%s' % (allocator.STRATEGY_ENV_VAR, value), _rp, ValueError,
      [allocator.STRATEGY_ENV_VAR, repr(value), '"registry"', '"ephemeral"'],
      env={allocator.STRATEGY_ENV_VAR: value})
    for value in ('random', 'kernel', '1')
] + [
    R('%s=%s' % (allocator.BACKEND_ENV_VAR, value), _rp, ValueError,
      [allocator.BACKEND_ENV_VAR, repr(value), '"kernel"', '"files"', '"memory"'],
      env={allocator.BACKEND_ENV_VAR: value})
    for value in ('redis', 'file', '1')
] + [
    R('%s is a file, -W error' % allocator.REGISTRY_ENV_VAR,
      lambda c: _registry_at(c.file()), allocator.PortRegistryWarning,
      ['no usable port registry', 'a-file', allocator.REGISTRY_ENV_VAR, 'a directory only '
       'you can write'], env={allocator.BACKEND_ENV_VAR: 'files'}, warnings_as_errors=True),
] + [
    R('%s=%s' % (support.USE_ENV_VAR, value), lambda c: support.requires('network'),
      ValueError, [support.USE_ENV_VAR, repr(value), 'separate names with commas',
                   'network,urlfetch'], env={support.USE_ENV_VAR: value})
    for value in ('network;urlfetch', 'network:cpu', 'all,-cpu/gui')
]


def _registry_at(path):
    os.environ[allocator.REGISTRY_ENV_VAR] = path
    return allocator.reserve_port()


class SocketHelperBadInputTest(TableTestCase):

    def test_rows(self):
        self.check(SOCKET_HELPER_ROWS)

    def test_bind_port_host_none_means_loopback(self):
        # Not bad input: the one host rule says None is the family's loopback.
        for family, host in ((AF_INET, sh.HOST), (AF_INET6, sh.HOSTv6)):
            sock = socket.socket(family)
            self.addCleanup(sock.close)
            sh.bind_port(sock, None)
            self.assertEqual(sock.getsockname()[0], host)


class TopLevelBadInputTest(TableTestCase):

    def test_rows(self):
        self.check(TOP_LEVEL_ROWS)


class AllocatorBadInputTest(TableTestCase):

    def test_rows(self):
        self.check(ALLOCATOR_ROWS)


class ServersBadInputTest(TableTestCase):

    def test_rows(self):
        self.check(SERVERS_ROWS)

    def test_port_in_use_on_ipv6_defaults_to_its_loopback(self):
        sock = socket.socket(AF_INET6)
        self.addCleanup(sock.close)
        port = sh.bind_port(sock)
        sock.listen(1)
        in_use, reason = servers.port_in_use(port, family=AF_INET6)
        self.assertTrue(in_use, reason)
        self.assertIn('on ::1', reason)


class MixinBadInputTest(TableTestCase):

    def test_rows(self):
        self.check(MIXIN_ROWS)


class SupportBadInputTest(TableTestCase):

    def test_rows(self):
        self.check(SUPPORT_ROWS)


class EnvironmentBadInputTest(TableTestCase):

    def test_rows(self):
        self.check(ENV_ROWS)


class CliRow(object):
    """``main(argv)`` must return *status* and print *texts*, with no traceback."""

    def __init__(self, argv, status, texts, env=None):
        self.argv, self.status, self.texts, self.env = argv, status, texts, env or {}


C = CliRow
NUMBER = 'expected a whole number of ports >= 1'
LEASE = '--lease is %r; expected a number of seconds greater than 0 and at most 86400'
PORT_NUMBER = 'expected a port number in 1..65535'
CLI_ROWS = [
    C([], 2, ['error: name a command: "info", "port" or "release"']),
    C(['--json'], 2, ['name a command', 'options go after it', '"info --json"', "'--json'"]),
    C(['-x'], 2, ['name a command', "got '-x'"]),
    C(['bogus'], 2, ['invalid choice', "'bogus'", "'info'"]),
    C(['info', '--bogus'], 2, ['unrecognized arguments: --bogus']),
    C(['port', 'extra'], 2, ['unrecognized arguments: extra']),
    C(['port', '-n', '0'], 2, ['argument -n', NUMBER, "got '0'"]),
    C(['port', '-n', 'x'], 2, ['argument -n', NUMBER, "got 'x'"]),
    C(['port', '-n', '-3'], 2, ['argument -n', NUMBER, "got '-3'"]),
    C(['port', '-n', '1.5'], 2, ['argument -n', NUMBER, "got '1.5'"]),
    C(['port', '-n'], 2, ['argument -n', 'expected one argument']),
    C(['port', '--lease', 'x'], 2, ['argument --lease', LEASE % 'x', 'e.g. 60']),
    C(['port', '--lease', '0'], 2, ['argument --lease', LEASE % '0']),
    C(['port', '--lease', '-1'], 2, ['argument --lease', LEASE % '-1']),
    C(['port', '--lease', 'nan'], 2, ['argument --lease', LEASE % 'nan']),
    C(['port', '--lease', 'inf'], 2, ['argument --lease', LEASE % 'inf']),
    C(['port', '--lease', '1e400'], 2, ['argument --lease', LEASE % '1e400']),
    C(['port', '--lease', '86401'], 2, ['argument --lease', LEASE % '86401']),
    C(['port', '-n', '11'], 1, ['testsupport port: error: -n 11 is more ports than the range '
                                '20000-20009 holds (10)', 'ask for fewer', 'widen '
                                'TESTSUPPORT_PORT_RANGE'],
      env={allocator.RANGE_ENV_VAR: '20000-20009'}),
    C(['port'], 1, ['port: error: TESTSUPPORT_PORT_RANGE is \'x\'', 'LOW-HIGH'],
      env={allocator.RANGE_ENV_VAR: 'x'}),
    C(['port'], 1, ['port: error: TESTSUPPORT_PORT_STRATEGY is \'y\'', '"ephemeral"'],
      env={allocator.STRATEGY_ENV_VAR: 'y'}),
    C(['release'], 2, ['usage: testsupport release [-h] PORT [PORT ...]',
                       'testsupport release: error: name the ports to release',
                       'release 20001 20002']),
    C(['release', '20001', '-x'], 2, ['testsupport release: error: unrecognized arguments: '
                                      '-x (see --help)']),
    C(['info', 'extra'], 2, ['testsupport info: error: unrecognized arguments: extra']),
    C(['release', 'x'], 2, ['argument PORT', PORT_NUMBER, "got 'x'"]),
    C(['release', '0'], 2, ['argument PORT', PORT_NUMBER, "got '0'"]),
    C(['release', '70000'], 2, ['argument PORT', PORT_NUMBER, "got '70000'"]),
    C(['release', '20001'], 1, ['testsupport release: error: this port was not leased by '
                                '"port" for this user (released already, run out, or never '
                                'leased): 20001']),
    C(['release', '20001'], 1, ['release: error: TESTSUPPORT_PORT_BACKEND is \'z\'',
                                '"memory"'], env={allocator.BACKEND_ENV_VAR: 'z'}),
    C(['info'], 1, ['port_config_error:', 'TESTSUPPORT_PORT_LEASE is \'-5\'', 'e.g. 60'],
      env={allocator.LEASE_ENV_VAR: '-5'}),
]


def run_cli(argv, env):
    """``main(argv)`` with stdout and stderr captured: ``(status, stdout + stderr)``."""
    out = io.BytesIO() if _compat.PY2 else io.StringIO()
    err = io.BytesIO() if _compat.PY2 else io.StringIO()
    saved, sys.stderr = sys.stderr, err
    env = _Env(env)
    try:
        try:
            status = _cli.main(argv, stdout=out)
        except BaseException as exc:  # a traceback is a failure of the row
            status = 'raised %s: %s' % (type(exc).__name__, exc)
    finally:
        sys.stderr = saved
        env.restore()
    text = out.getvalue() + err.getvalue()
    return status, text.decode('utf-8') if isinstance(text, bytes) else text


class CliBadInputTest(TableTestCase):

    def test_rows(self):
        failures = []
        for row in CLI_ROWS:
            env = base_env(self.directory)
            env[allocator.BACKEND_ENV_VAR] = 'files'  # release needs a store that outlives us
            env.update(row.env)
            before = open_fds()
            status, text = run_cli(row.argv, env)
            leaked = open_fds() - before
            problems = []
            if status != row.status:
                problems.append('exit status %r, not %r' % (status, row.status))
            missing = [t for t in row.texts if t not in text]
            if missing:
                problems.append('output lacks %r' % (missing,))
            if 'Traceback' in text or _PY2_SPELLINGS.search(text):
                problems.append('a traceback or a Python 2 spelling')
            if leaked:
                problems.append('leaked descriptors %s' % sorted(leaked))
            if problems:
                failures.append('%s: %s; output: %s' % (row.argv, '; '.join(problems), text))
        self.assertEqual(failures, [])

    def run_module(self, args):
        env = dict(os.environ)
        env.update((k, v) for k, v in base_env(self.directory).items() if v is not None)
        env[allocator.RANGE_ENV_VAR] = ephemeral_overlap()
        env['PYTHONPATH'] = _ROOT
        proc = subprocess.Popen([sys.executable, '-W', 'error', '-m', 'testsupport'] + args,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        out, err = proc.communicate()
        return proc.returncode, out.decode('utf-8'), err.decode('utf-8')

    def test_info_under_w_error_with_an_overlapping_range_reports_it(self):
        status, out, err = self.run_module(['info'])
        self.assertNotIn('Traceback', err)
        self.assertEqual(status, 1, err)
        self.assertIn('port_config_error:', out)
        self.assertIn('overlaps the OS ephemeral range', out)

    def test_port_under_w_error_with_an_overlapping_range_reports_it(self):
        status, out, err = self.run_module(['port'])
        self.assertNotIn('Traceback', err)
        self.assertEqual((status, out), (1, ''), err)
        self.assertIn('port: error: %s is' % allocator.RANGE_ENV_VAR, err)
        self.assertIn('choose ports outside it', err)


ALL_ROWS = (SOCKET_HELPER_ROWS + TOP_LEVEL_ROWS + ALLOCATOR_ROWS + SERVERS_ROWS + MIXIN_ROWS
            + SUPPORT_ROWS + ENV_ROWS)


class TableSizeTest(unittest.TestCase):

    def test_at_least_the_issues_94_cases_and_20_cli_cases(self):
        self.assertGreaterEqual(len(ALL_ROWS) + len(CLI_ROWS), 94 + 20)
        self.assertGreaterEqual(len(CLI_ROWS), 20)


def _dump():  # pragma: no cover - a tool for comparing interpreters
    directory = tempfile.mkdtemp(prefix='tsu-bad-')
    try:
        for row in ALL_ROWS:
            exc, _problems = run_row(row, directory)
            print('%s => %s: %s' % (row.name, type(exc).__name__, exc))
        for row in CLI_ROWS:
            env = base_env(directory)
            env[allocator.BACKEND_ENV_VAR] = 'files'
            env.update(row.env)
            status, text = run_cli(row.argv, env)
            print('%s => %s: %s' % (row.argv, status, text.strip().splitlines()[-1]))
    finally:
        shutil.rmtree(directory, True)


if __name__ == '__main__':
    _dump()
