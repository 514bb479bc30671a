"""CPython's socket test helpers (``test.support.socket_helper``), name for name.

Every public name of CPython 3.13's ``Lib/test/support/socket_helper.py`` (the
same in 3.14 and 3.15) is here with the same signature and contract, working on
Python 2.7, 3.6-3.15 and PyPy 3, and without importing CPython's ``test``
package. Deliberate differences (each also in the README's "Differences from
test.support"):

- ``HOST`` is ``"127.0.0.1"``, as in 2.7 and 3.6: ``"localhost"`` costs a name
  lookup, can resolve to ``::1`` and on some systems asks DNS.
- ``bind_port`` refuses SO_REUSEADDR/SO_REUSEPORT on IPv6 TCP sockets too, and
  on non-blocking sockets, whose ``type`` is 2049 on Python 3.6 (CPython 3.6's
  guard silently skipped them). On an AF_INET6 socket the default host is
  ``HOSTv6``.
- ``find_unused_port`` leases its port through :mod:`testsupport.allocator`, so
  no other process using testsupport is handed it meanwhile
  (``TESTSUPPORT_PORT_STRATEGY=ephemeral``: CPython's behaviour).
- Bad input raises ``TypeError``/``ValueError`` naming the problem instead of an
  ``AssertionError`` or a bare ``OSError``.
- ``create_unix_domain_name`` returns a path in a private (0700) directory, so
  no other process can predict or pre-create it.

.. versionadded:: 0.1.0
"""
from __future__ import absolute_import, division, print_function

import atexit
import contextlib
import os
import socket
import unittest

from . import _compat, _ports, _sockets, _tempdirs, platform_shim, support

__all__ = [
    'HOST',
    'HOSTv4',
    'HOSTv6',
    'IPV6_ENABLED',
    'bind_port',
    'bind_unix_socket',
    'can_bind_unix_socket',
    'create_unix_domain_name',
    'find_unused_port',
    'get_socket_conn_refused_errs',
    'has_gethostname',
    'skip_if_tcp_blackhole',
    'skip_unless_bind_unix_socket',
    'tcp_blackhole',
    'transient_internet',
]

HOST = _sockets.HOST
HOSTv4 = _sockets.HOSTv4
HOSTv6 = _sockets.HOSTv6

has_gethostname = platform_shim.current().has_gethostname


def find_unused_port(family=socket.AF_INET, socktype=socket.SOCK_STREAM):
    """Return a port number that is free for *family* and *socktype* on loopback.

    Unlike CPython's, the port is *leased* (see :mod:`testsupport.allocator`):
    no other process using testsupport is handed it until the lease time
    (``TESTSUPPORT_PORT_LEASE``, default 60 s) passes or this process exits, and
    it lies outside the OS ephemeral range, so the kernel does not give it to
    outgoing connections or to ``bind(port 0)`` callers either. Bind it soon:
    processes not using testsupport can still take it. Prefer :func:`bind_port`
    whenever you create the socket yourself.
    ``TESTSUPPORT_PORT_STRATEGY=ephemeral`` restores CPython's behaviour (bind
    port 0 with :func:`bind_port`, close, return the number).

    Raises ValueError for a family or type without ports (AF_UNIX, SOCK_RAW),
    :class:`~testsupport.allocator.NoFreePortError` when the candidate range is
    used up, and the socket error when no socket of that family can be bound
    (e.g. AF_INET6 where IPv6 is off).
    """
    return _ports.lease_port(family, socktype, None, 'find_unused_port',
                             platform_shim.current(), never_fail=True)


def bind_port(sock, host=HOST):
    """Bind *sock* to a free port on *host* and return the port number.

    The port comes from the kernel (``bind((host, 0))``). For a TCP socket,
    raises :class:`~testsupport.support.TestFailed` if SO_REUSEADDR or
    SO_REUSEPORT is set, because another process could then bind the same port;
    on Windows sets SO_EXCLUSIVEADDRUSE so that nobody else can. On an AF_INET6
    socket the default *host* (``HOST`` itself) means ``HOSTv6``; any other IPv4
    address there is an error, as in CPython.

    Raises TypeError if *sock* is not a socket, ValueError if it is closed or has
    no ports (AF_UNIX), and ``socket.gaierror`` naming *host* if it does not
    resolve. *sock* is never closed here: it stays the caller's.
    """
    return _bind_port(sock, host, platform_shim.current())


def _bind_port(sock, host, platform):
    return _sockets.bind_port(sock, host, 'bind_port', platform)


def bind_unix_socket(sock, addr):
    """Bind the AF_UNIX socket *sock* to the path *addr*.

    Skips the calling test (``unittest.SkipTest``, after closing *sock*, as
    CPython does) when the platform or the filesystem refuses AF_UNIX binds with
    EACCES or EPERM; other socket errors propagate unchanged, among them
    ``OSError("AF_UNIX path too long")`` for a path over the OS limit (108 bytes
    on Linux, 104 on macOS), which CPython's own tests look for. Raises
    TypeError/ValueError if *sock* is not an open AF_UNIX socket, TypeError if
    *addr* is not a str or bytes path.
    """
    return _bind_unix_socket(sock, addr, platform_shim.current())


def _bind_unix_socket(sock, addr, platform):
    _sockets.check_unix_socket('bind_unix_socket', sock, platform)
    if not isinstance(addr, _compat.string_types + (bytes,)):
        raise TypeError('bind_unix_socket(): addr must be a path (str or bytes) such as '
                        'create_unix_domain_name() returns, got %s %r'
                        % (type(addr).__name__, addr))
    try:
        sock.bind(addr)
    except _compat.OS_ERRORS as exc:
        if not platform.is_permission_error(exc):
            raise
        sock.close()
        raise unittest.SkipTest('cannot bind AF_UNIX sockets: %s' % (exc,))


def _is_ipv6_enabled(socket_module=socket):
    """Check whether IPv6 is enabled on this host (binding ``::1`` works)."""
    if not socket_module.has_ipv6:
        return False
    return _sockets.probe_bind(socket_module.AF_INET6, (HOSTv6, 0), socket_module) is None


IPV6_ENABLED = _is_ipv6_enabled()


def can_bind_unix_socket():
    """Return True if AF_UNIX sockets exist here and bind() on them works.

    Probed once, in a private temporary directory, then cached.

    .. versionadded:: 0.1.0
    """
    return _sockets.unix_bind_problem(platform_shim.current()) is None


def skip_unless_bind_unix_socket(test):
    """Decorator skipping *test* unless AF_UNIX sockets can be bound here.

    The skip reason says why: ``No UNIX Sockets``, or the error bind() raised.
    """
    return _skip_if_reason(test, _sockets.unix_bind_problem(platform_shim.current()))


def _skip_if_reason(test, reason):
    if reason:
        return unittest.skip(reason)(test)
    return test


def get_socket_conn_refused_errs():
    """Return the errno values a refused connection can raise here.

    ECONNREFUSED, ENETUNREACH, EADDRNOTAVAIL, EHOSTUNREACH, and EAFNOSUPPORT when
    IPv6 is disabled; on Windows these are the WinSock (WSAE*) numbers.
    """
    return platform_shim.current().conn_refused_errnos(IPV6_ENABLED)


_NOT_SET = object()


@contextlib.contextmanager
def transient_internet(resource_name, timeout=_NOT_SET, errnos=()):
    """Context manager turning network trouble into :class:`ResourceDenied` (a skip).

    Inside the block the default socket timeout is *timeout* (default
    ``INTERNET_TIMEOUT``; ``None`` leaves it alone); it is restored on exit, even
    on error. Timeouts, refused or reset connections, unreachable hosts, failed
    name lookups, HTTP 5xx errors and urllib errors wrapping any of these become
    ``ResourceDenied("Resource 'x' is not available: <cause>")``. Pass *errnos* to
    replace the default errno list. Any other exception propagates unchanged.
    *timeout* may be given positionally, as in Python 2.7; TypeError/ValueError
    (on entering the block) if it is not a finite number of seconds >= 0 or None.
    """
    platform = platform_shim.current()
    if timeout is _NOT_SET:
        timeout = support.INTERNET_TIMEOUT
    timeout = _sockets.check_timeout('transient_internet', timeout, None)
    if errnos:
        captured_errnos, gai_errnos = list(errnos), []
    else:
        captured_errnos = platform.transient_errnos()
        gai_errnos = platform.transient_gai_errnos()

    def is_transient(err):
        number = getattr(err, 'errno', None)
        if isinstance(err, _compat.TIMEOUT_ERRORS):
            return True
        if isinstance(err, socket.gaierror):
            return number in gai_errnos
        url_error, http_error = _compat.url_error_classes()
        if isinstance(err, http_error):
            return 500 <= err.code <= 599
        if isinstance(err, url_error) and isinstance(err.reason, _compat.string_types):
            return any(name in err.reason for name in
                       ('ConnectionRefusedError', 'TimeoutError', 'EOFError'))
        if type(err).__name__ == 'NNTPTemporaryError':
            return True
        return isinstance(err, _compat.OS_ERRORS) and number in captured_errnos

    old_timeout = socket.getdefaulttimeout()
    try:
        if timeout is not None:
            socket.setdefaulttimeout(timeout)
        yield
    except Exception as exc:
        for err in _compat.exception_chain(exc):
            if is_transient(err):
                raise support.ResourceDenied('Resource %r is not available: %s'
                                             % (resource_name, err or type(err).__name__))
        raise
    finally:
        socket.setdefaulttimeout(old_timeout)


_process_dir = {}


def _remove_process_dir():
    directory = _process_dir.get(os.getpid())
    if directory:
        _tempdirs.remove_tree_quietly(directory)


def create_unix_domain_name():
    """Return a new, unused AF_UNIX socket path that no other process can predict.

    The path is in a private (0700) directory created once per process and
    removed, with anything in it, when the process exits; the name itself is
    random. It is absolute and short (about 40 bytes) so that it fits the
    AF_UNIX limit even when TMPDIR is long. The file is not created: bind() does
    that. CPython returns a ``tempfile.mktemp()`` name in the current directory.
    """
    pid = os.getpid()
    directory = _process_dir.get(pid)
    if directory is None or not os.path.isdir(directory):
        if not _process_dir:
            atexit.register(_remove_process_dir)
        directory = _process_dir[pid] = _sockets.make_private_dir(platform_shim.current())
    return os.path.join(directory, _sockets.random_name() + '.sock')


def tcp_blackhole():
    """Return True if the TCP blackhole is on (FreeBSD ``net.inet.tcp.blackhole``).

    With it on, a connection to a closed port times out instead of being
    refused. Always False on other systems, and when the sysctl cannot be read.
    """
    return _tcp_blackhole(platform_shim.current())


_blackhole_cache = {}


def _tcp_blackhole(platform, run=None):
    key = (platform.name, run)
    if key not in _blackhole_cache:
        _blackhole_cache[key] = platform.tcp_blackhole(run)
    return _blackhole_cache[key]


def skip_if_tcp_blackhole(test):
    """Decorator skipping *test* if the TCP blackhole is enabled."""
    reason = 'TCP blackhole is enabled (sysctl net.inet.tcp.blackhole)'
    return _skip_if_reason(test, reason if tcp_blackhole() else None)
