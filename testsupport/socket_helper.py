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
import shutil
import socket
import tempfile
import unittest
import uuid

from . import _compat, platform_shim, support

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

HOST = '127.0.0.1'
HOSTv4 = '127.0.0.1'
HOSTv6 = '::1'

has_gethostname = platform_shim.current().has_gethostname

_FAMILY_NAMES = {socket.AF_INET: 'AF_INET', socket.AF_INET6: 'AF_INET6'}
_TYPE_NAMES = {socket.SOCK_STREAM: 'SOCK_STREAM', socket.SOCK_DGRAM: 'SOCK_DGRAM'}


def _family_name(family, platform):
    if platform.af_unix is not None and family == platform.af_unix:
        return 'AF_UNIX'
    return _FAMILY_NAMES.get(family, 'family %d' % (family,))


def _loopback(family, host=None):
    """*host*, or when it is None the loopback address of *family* (HOST or HOSTv6)."""
    if host is not None:
        return host
    return HOSTv6 if family == socket.AF_INET6 else HOST


def _check_int(caller, what, value, example):
    if isinstance(value, bool) or not isinstance(value, _compat.integer_types):
        raise TypeError('%s(): %s must be an int such as %s, got %s %r'
                        % (caller, what, example, type(value).__name__, value))


def _check_port_family(caller, family, platform, socktype=None):
    """TypeError unless they are ints; ValueError unless *family* (and *socktype*) have ports."""
    _check_int(caller, 'family', family, 'socket.AF_INET')
    if socktype is not None:
        _check_int(caller, 'socktype', socktype, 'socket.SOCK_STREAM')
    if family not in _FAMILY_NAMES:
        hint = (', or for AF_UNIX create_unix_domain_name() for an address and '
                'bind_unix_socket() to bind' if family == platform.af_unix else '')
        raise ValueError('%s(): %s has no ports; use socket.AF_INET or socket.AF_INET6%s'
                         % (caller, _family_name(family, platform), hint))
    if socktype is not None and socktype not in _TYPE_NAMES:
        raise ValueError('%s(): socket type %r has no ports; use socket.SOCK_STREAM (TCP) '
                         'or socket.SOCK_DGRAM (UDP)' % (caller, socktype))


def _check_open_socket(caller, sock):
    """TypeError for a non-socket, ValueError for a closed one."""
    if not isinstance(sock, socket.socket):
        raise TypeError('%s() expects a socket.socket, got %s %r'
                        % (caller, type(sock).__name__, sock))
    try:
        fileno = sock.fileno()
    except _compat.OS_ERRORS:  # 2.7: a closed socket raises EBADF
        fileno = -1
    if fileno == -1:
        raise ValueError('%s(): the socket is closed; create a new socket and pass that'
                         % caller)


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
    return _find_unused_port(family, socktype, platform_shim.current())


def _find_unused_port(family, socktype, platform):
    from . import allocator  # lazily: allocator imports this module
    return allocator._find_unused_port(family, socktype, platform)


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
    _check_open_socket('bind_port', sock)
    _check_port_family('bind_port', sock.family, platform)
    if sock.family == socket.AF_INET6 and host is HOST:
        host = HOSTv6  # the default (HOST itself, not any "127.0.0.1") means loopback
    if platform.socket_type(sock) == socket.SOCK_STREAM:
        options = platform.reuse_options_set(sock)
        if options:
            names = ' and '.join(options)
            raise support.TestFailed(
                'bind_port(): %s %s set on this TCP socket, so another process could bind the '
                'same port; tests should never set %s on TCP/IP sockets (only for UDP '
                'multicast): remove the setsockopt() call'
                % (names, 'are' if len(options) > 1 else 'is', names))
        platform.make_exclusive(sock)
    _bind(sock, host, 0, 'bind_port', platform)
    return sock.getsockname()[1]


def _bind(sock, host, port, caller, platform):
    """``sock.bind((host, port))``; an unresolvable *host* gets a message that helps.

    The error stays a ``socket.gaierror`` with the same errno; its text names
    *caller*, the host and the family, and says what to pass instead.
    """
    try:
        sock.bind((host, port))
    except socket.gaierror as exc:
        raise socket.gaierror(exc.errno, '%s(): cannot resolve host %r for %s: %s; %s'
                              % (caller, host, _family_name(sock.family, platform),
                                 exc.args[-1], _host_hint(host, sock.family)))


def _host_hint(host, family):
    text = host if isinstance(host, _compat.string_types) else ''
    if family == socket.AF_INET and ':' in text:
        return ('%r is an IPv6 address and the socket is AF_INET: create the socket with '
                'socket.AF_INET6, or pass an IPv4 host such as HOST (%r)' % (host, HOST))
    parts = text.split('.')
    if family == socket.AF_INET6 and len(parts) == 4 and all(p.isdigit() for p in parts):
        return ('%r is an IPv4 address and the socket is AF_INET6: create the socket with '
                'socket.AF_INET, or pass an IPv6 host such as HOSTv6 (%r)' % (host, HOSTv6))
    return 'pass an IP address such as HOST (%r) or HOSTv6 (%r)' % (HOST, HOSTv6)


def bind_unix_socket(sock, addr):
    """Bind the AF_UNIX socket *sock* to the path *addr*.

    Skips the calling test (``unittest.SkipTest``, after closing *sock*, as
    CPython does) when the platform or the filesystem refuses AF_UNIX binds with
    EACCES or EPERM; other socket errors propagate unchanged, among them
    ``OSError("AF_UNIX path too long")`` for a path over the OS limit (108 bytes
    on Linux, 104 on macOS), which CPython's own tests look for. Raises
    TypeError/ValueError if *sock* is not an open AF_UNIX socket.
    """
    return _bind_unix_socket(sock, addr, platform_shim.current())


def _bind_unix_socket(sock, addr, platform):
    _check_open_socket('bind_unix_socket', sock)
    if platform.af_unix is None:
        raise ValueError('bind_unix_socket(): this platform (%s) has no AF_UNIX sockets; '
                         'decorate the test with @skip_unless_bind_unix_socket' % platform.name)
    if sock.family != platform.af_unix:
        raise ValueError('bind_unix_socket() needs an AF_UNIX socket, got %s; use bind_port() '
                         'for AF_INET/AF_INET6 sockets'
                         % _family_name(sock.family, platform))
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
    return platform_shim.probe_bind(socket_module.AF_INET6, (HOSTv6, 0), socket_module) is None


IPV6_ENABLED = _is_ipv6_enabled()


_unix_bind_error = []


def _unix_bind_probe():
    """None if an AF_UNIX bind works here, else the reason (probed once, cached)."""
    if not _unix_bind_error:
        _unix_bind_error.append(_probe_unix_bind(platform_shim.current()))
    return _unix_bind_error[0]


def _probe_unix_bind(platform):
    if platform.af_unix is None:
        return 'No UNIX Sockets'
    directory = _make_private_dir()
    try:
        error = platform_shim.probe_bind(platform.af_unix, os.path.join(directory, 'probe.sock'))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return None if error is None else 'Requires a functional unix bind(): %s' % (error,)


def can_bind_unix_socket():
    """Return True if AF_UNIX sockets exist here and bind() on them works.

    Probed once, in a private temporary directory, then cached.

    .. versionadded:: 0.1.0
    """
    return _unix_bind_probe() is None


def skip_unless_bind_unix_socket(test):
    """Decorator skipping *test* unless AF_UNIX sockets can be bound here.

    The skip reason says why: ``No UNIX Sockets``, or the error bind() raised.
    """
    return _skip_if_reason(test, _unix_bind_probe())


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
    *timeout* may be given positionally, as in Python 2.7.
    """
    platform = platform_shim.current()
    if timeout is _NOT_SET:
        timeout = support.INTERNET_TIMEOUT
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
        if isinstance(err, _compat.HTTPError):
            return 500 <= err.code <= 599
        if isinstance(err, _compat.URLError) and isinstance(err.reason, _compat.string_types):
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


_SOCKET_DIR_PREFIX = 'tsu-'
_process_dir = {}


def _make_private_dir(candidates=None, limit=None):
    """Create a new 0700 directory whose path leaves room for a socket name.

    Tries the temp directory, then ``/tmp``: macOS' per-user temp directory is
    about 50 characters long, near the 104-byte AF_UNIX limit.
    """
    if limit is None:
        limit = platform_shim.current().sun_path_max
    if candidates is None:
        candidates = [tempfile.gettempdir(), '/tmp']
    for base in candidates:
        # mkdtemp adds 8 random characters; keep 40 bytes for the file name.
        if len(os.path.join(base, _SOCKET_DIR_PREFIX)) + 8 + 40 <= limit and os.path.isdir(base):
            return tempfile.mkdtemp(prefix=_SOCKET_DIR_PREFIX, dir=base)
    return tempfile.mkdtemp(prefix=_SOCKET_DIR_PREFIX)


def _remove_process_dir():
    directory = _process_dir.get(os.getpid())
    if directory:
        shutil.rmtree(directory, ignore_errors=True)


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
        directory = _process_dir[pid] = _make_private_dir()
    return os.path.join(directory, uuid.uuid4().hex[:12] + '.sock')


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
