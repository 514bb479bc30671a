"""Socket primitives under the mirror and the allocator: one host rule, one bind, one probe.

Private: its public names serve testsupport's own modules (``allocator``,
``socket_helper``, ``servers``, the mixin, the plugin and the CLI), which is why
they carry no leading underscore. Everything here takes the
:class:`~testsupport.platform_shim.Platform` to use, so tests can hand it a
described one. Layers: ``_compat`` -> ``_system`` -> ``platform_shim`` -> ``_port_tables`` -> ``_sockets`` ->
``allocator`` -> ``socket_helper`` -> ``servers`` -> mixin / plugin / CLI.

The host rule, decided here only: *no host* (``None``, or ``HOST`` itself, the
default of CPython's signatures) means the loopback address of the socket's
family: ``HOST`` for AF_INET, ``HOSTv6`` for AF_INET6. Any other value, among
them ``HOSTv4``, is used as given.
"""
from __future__ import absolute_import, division, print_function

import math
import os
import socket

from . import _compat, _system, _tempdirs, support

__all__ = [
    'HOST',
    'HOSTv4',
    'HOSTv6',
    'SOCKET_DIR_PREFIX',
    'bind',
    'bind_error',
    'bind_port',
    'bindable',
    'check_host',
    'check_int',
    'check_open_socket',
    'check_port',
    'check_port_family',
    'check_timeout',
    'check_unix_socket',
    'family_name',
    'format_address',
    'kernel_port',
    'loopback',
    'make_private_dir',
    'probe_bind',
    'random_name',
    'remove_dead_private_dirs',
    'unix_bind_problem',
]

HOST = '127.0.0.1'
#: Equal to HOST but a distinct object: passed explicitly it means IPv4 even on an
#: AF_INET6 socket (an error there, as documented), where HOST itself means "default".
HOSTv4 = ''.join(['127.0.0', '.1'])
HOSTv6 = '::1'

_FAMILY_NAMES = {socket.AF_INET: 'AF_INET', socket.AF_INET6: 'AF_INET6'}
_TYPE_NAMES = {socket.SOCK_STREAM: 'SOCK_STREAM', socket.SOCK_DGRAM: 'SOCK_DGRAM'}


# -- the host rule and messages ----------------------------------------------

def loopback(family, host=None):
    """*host*, or when it is None or ``HOST`` itself the loopback address of *family*."""
    if host is None or host is HOST:
        return HOSTv6 if family == socket.AF_INET6 else HOST
    return host


def family_name(family, platform):
    """``'AF_INET'``, ``'AF_INET6'``, ``'AF_UNIX'`` or ``'family N'``."""
    if platform.af_unix is not None and family == platform.af_unix:
        return 'AF_UNIX'
    return _FAMILY_NAMES.get(family, 'family %d' % family)


def format_address(host, port):
    """``127.0.0.1:80`` or ``[::1]:80``."""
    if ':' in str(host):
        return '[%s]:%s' % (host, port)
    return '%s:%s' % (host, port)


def _family_hint(host, family):
    """The fix when *host* is an address literal of the other family than *family*, else None."""
    text = host if isinstance(host, _compat.string_types) else ''
    if family == socket.AF_INET and ':' in text:
        return ('%r is an IPv6 address and the socket is AF_INET: create the socket with '
                'socket.AF_INET6, or pass an IPv4 host such as HOST (%r)' % (host, HOST))
    parts = text.split('.')
    if family == socket.AF_INET6 and len(parts) == 4 and all(p.isdigit() for p in parts):
        return ('%r is an IPv4 address and the socket is AF_INET6: create the socket with '
                'socket.AF_INET, or pass an IPv6 host such as HOSTv6 (%r)' % (host, HOSTv6))
    return None


def _host_hint(host, family):
    return (_family_hint(host, family) or
            'pass an IP address such as HOST (%r) or HOSTv6 (%r)' % (HOST, HOSTv6))


# -- argument checks ---------------------------------------------------------

def check_int(caller, what, value, example):
    """TypeError unless *value* is an int (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, _compat.integer_types):
        raise TypeError('%s(): %s must be an int such as %s, got %s %r'
                        % (caller, what, example, type(value).__name__, value))


def check_port(caller, port):
    """TypeError/ValueError unless *port* is an int in 1..65535."""
    if isinstance(port, bool) or not isinstance(port, _compat.integer_types):
        raise TypeError('%s(): port must be an int in 1..65535, got %s %r'
                        % (caller, type(port).__name__, port))
    if not 1 <= port <= 65535:
        raise ValueError('%s(): port must be in 1..65535, got %r; pass the number a '
                         'server is bound to (e.g. from bind_port() or find_unused_port())'
                         % (caller, port))


def check_timeout(caller, timeout, default, what='timeout'):
    """*timeout* as a finite number of seconds >= 0 (None: *default*); else TypeError/ValueError.

    *what* names the argument in the messages.
    """
    if timeout is None:
        return default
    if isinstance(timeout, bool) or not isinstance(timeout, _compat.integer_types + (float,)):
        raise TypeError('%s(): %s must be a number of seconds or None, got %s %r'
                        % (caller, what, type(timeout).__name__, timeout))
    if math.isnan(timeout) or math.isinf(timeout) or timeout < 0:
        if default is None:
            fix = 'or None to leave it unchanged'
        else:
            fix = 'or None for the default (%s s)' % (default,)
        raise ValueError('%s(): %s must be a finite number of seconds >= 0, got %r; '
                         'pass e.g. 5.0, %s' % (caller, what, timeout, fix))
    return timeout


#: check_port_family()'s "no socket type to check" (None is a bad socktype).
_ANY_TYPE = object()


def check_port_family(caller, family, platform, socktype=_ANY_TYPE):
    """TypeError unless they are ints; ValueError unless *family* (and *socktype*) have ports."""
    check_int(caller, 'family', family, 'socket.AF_INET')
    if socktype is not _ANY_TYPE:
        check_int(caller, 'socktype', socktype, 'socket.SOCK_STREAM')
    if family not in _FAMILY_NAMES:
        hint = (', or for AF_UNIX create_unix_domain_name() for an address and '
                'bind_unix_socket() to bind' if family == platform.af_unix else '')
        raise ValueError('%s(): %s has no ports; use socket.AF_INET or socket.AF_INET6%s'
                         % (caller, family_name(family, platform), hint))
    if socktype is not _ANY_TYPE and socktype not in _TYPE_NAMES:
        raise ValueError('%s(): socket type %d has no ports; use socket.SOCK_STREAM (TCP) '
                         'or socket.SOCK_DGRAM (UDP)' % (caller, socktype))


def check_open_socket(caller, sock):
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


def check_unix_socket(caller, sock, platform):
    """ValueError/TypeError unless *sock* is an open AF_UNIX socket on a platform that has them."""
    check_open_socket(caller, sock)
    if platform.af_unix is None:
        raise ValueError('%s(): this platform (%s) has no AF_UNIX sockets; '
                         'decorate the test with @skip_unless_bind_unix_socket'
                         % (caller, platform.name))
    if sock.family != platform.af_unix:
        raise ValueError('%s() needs an AF_UNIX socket, got %s; use bind_port() '
                         'for AF_INET/AF_INET6 sockets' % (caller, family_name(sock.family, platform)))


def check_host(caller, host):
    """TypeError unless *host* is a str."""
    if not isinstance(host, _compat.string_types):
        raise TypeError('%s(): host must be a str such as HOST (%r) or HOSTv6 (%r), got %s %r'
                        % (caller, HOST, HOSTv6, type(host).__name__, host))


# -- bind --------------------------------------------------------------------

def bind(sock, host, port, caller, platform):
    """``sock.bind((host, port))``; errors that are the caller's mistake explained.

    An unresolvable host stays a ``socket.gaierror`` with the same errno; an
    address literal of the other family (``'::1'`` on AF_INET, ``'127.0.0.1'``
    on AF_INET6) is refused before binding, as a ``gaierror`` EAI_NONAME that
    reads the same on every Python (2.7 would bind the v4-mapped address and
    fail with EADDRNOTAVAIL; PyPy's errno-less mismatch becomes one too); a host that is not an address of this machine (EADDRNOTAVAIL), or
    a socket that is already bound (EINVAL), keeps its errno and gains a
    message naming *caller*, the address and the fix. EADDRINUSE and EACCES
    propagate unchanged: callers decide what "taken" means.
    """
    check_host(caller, host)
    hint = _family_hint(host, sock.family)
    if hint is not None:
        raise socket.gaierror(platform.gai_errnos['EAI_NONAME'],
                              '%s(): cannot resolve host %r for %s: address family for '
                              'hostname not supported; %s'
                              % (caller, host, family_name(sock.family, platform), hint))
    try:
        sock.bind((host, port))
    except socket.gaierror as exc:
        raise socket.gaierror(exc.errno, '%s(): cannot resolve host %r for %s: %s; %s'
                              % (caller, host, family_name(sock.family, platform),
                                 exc.args[-1], _host_hint(host, sock.family)))
    except _compat.OS_ERRORS as exc:
        if platform.is_family_mismatch(exc):
            raise socket.gaierror(platform.gai_errnos['EAI_NONAME'],
                                  '%s(): cannot resolve host %r for %s: %s; %s'
                                  % (caller, host, family_name(sock.family, platform), exc,
                                     _host_hint(host, sock.family)))
        if platform.is_errno(exc, 'EADDRNOTAVAIL'):
            raise socket.error(exc.errno, '%s(): cannot bind %s: %s is not an address of this '
                               'machine (%s); tests bind loopback: pass HOST (%r) or HOSTv6 '
                               '(%r), or leave host out'
                               % (caller, format_address(host, port), host,
                                  exc.strerror or exc, HOST, HOSTv6))
        if platform.is_errno(exc, 'EINVAL') and _bound_port(sock):
            raise socket.error(exc.errno, '%s(): the socket is already bound to %s (%s); '
                               'pass a new, unbound socket'
                               % (caller, format_address(*sock.getsockname()[:2]),
                                  exc.strerror or exc))
        raise


def _bound_port(sock):
    try:
        return sock.getsockname()[1]
    except (_compat.OS_ERRORS + (IndexError, TypeError)):
        return 0


def bind_port(sock, host, caller, platform):
    """Bind *sock* to a kernel-assigned port on *host* (the host rule applies); return it.

    TCP sockets with SO_REUSEADDR/SO_REUSEPORT are refused (``TestFailed``:
    another process could bind the same port) and made exclusive where the
    platform can (Windows). Argument errors as in the checks above.
    """
    check_open_socket(caller, sock)
    check_port_family(caller, sock.family, platform)
    socktype = platform.socket_type(sock)
    if socktype not in _TYPE_NAMES:
        raise ValueError('%s(): socket type %d has no ports; use a SOCK_STREAM (TCP) or '
                         'SOCK_DGRAM (UDP) socket' % (caller, socktype))
    host = loopback(sock.family, host)
    if socktype == socket.SOCK_STREAM:
        options = platform.reuse_options_set(sock)
        if options:
            names = ' and '.join(options)
            raise support.TestFailed(
                '%s(): %s %s set on this TCP socket, so another process could bind the '
                'same port; tests should never set %s on TCP/IP sockets (only for UDP '
                'multicast): remove the setsockopt() call'
                % (caller, names, 'are' if len(options) > 1 else 'is', names))
        platform.make_exclusive(sock)
    bind(sock, host, 0, caller, platform)
    return sock.getsockname()[1]


def kernel_port(family, socktype, host, platform, caller):
    """A port the kernel assigns on *host* for *family*/*socktype*: bind port 0, close."""
    sock = socket.socket(family, socktype)
    try:
        return bind_port(sock, host, caller, platform)
    finally:
        sock.close()


def bind_error(family, socktype, host, port, platform, caller):
    """None if (*host*, *port*) can be bound now; the error if it is taken or reserved.

    The one bindability probe: a fresh socket, exclusive where the platform
    can, bound and closed. Other errors propagate, explained by :func:`bind`.
    """
    sock = socket.socket(family, socktype)
    try:
        platform.make_exclusive(sock)
        bind(sock, loopback(family, host), port, caller, platform)
    except _compat.OS_ERRORS as exc:
        if platform.is_address_taken(exc):
            return exc
        raise
    finally:
        sock.close()
    return None


def _plain_socket_type():
    """The C-level socket type where there is one: no Python wrapper to set up per probe."""
    try:
        from _socket import socket as plain
    except ImportError:  # pragma: no cover (every interpreter we support has _socket)
        return socket.socket
    return plain


_PlainSocket = _plain_socket_type()


def bindable(family, socktype, host, port, platform, caller):
    """True if (*host*, *port*) can be bound now, False if it is taken or reserved.

    :func:`bind_error`'s answer at the cost of one bare ``bind()``: the socket
    is the C-level type (no Python wrapper to create), *host* must already be
    an address (the host rule applied) and nothing is explained on the way.
    Anything but "taken" goes through :func:`bind_error` again, which explains
    it. The allocator's probe of each port it hands out.
    """
    if platform.so_exclusiveaddruse is not None:
        return bind_error(family, socktype, host, port, platform, caller) is None
    sock = _PlainSocket(family, socktype)
    try:
        sock.bind((host, port))
    except _compat.OS_ERRORS as exc:
        if platform.is_address_taken(exc):
            return False
        return bind_error(family, socktype, host, port, platform, caller) is None
    finally:
        sock.close()
    return True


# -- private directories -------------------------------------------------------

def probe_bind(family, address, socket_module=socket):
    """Try ``bind(address)`` on a fresh *family* stream socket; None or the error.

    The socket is always closed. Used for the IPv6 and AF_UNIX probes.
    """
    try:
        sock = socket_module.socket(family, socket_module.SOCK_STREAM)
    except (OSError, socket.error) as exc:
        return exc
    try:
        sock.bind(address)
    except (OSError, socket.error) as exc:
        return exc
    finally:
        sock.close()
    return None


#: Private socket directories are named ``tsu-<12 hex digits>`` (16 bytes).
SOCKET_DIR_PREFIX = 'tsu-'

#: Bytes kept free in a private directory's path for a socket file name.
_SOCKET_NAME_ROOM = 40


def make_private_dir(platform, candidates=None, limit=None):
    """Create a new 0700 directory whose path leaves room for a socket name.

    Tries the temp directory, then ``/tmp``: macOS' per-user temp directory is
    about 50 characters long, near the 104-byte AF_UNIX limit. The directory
    is ``<base>/tsu-<12 hex digits>``, made by :func:`_tempdirs.make_locked_dir
    <testsupport._tempdirs.make_locked_dir>`: this process holds a lock in it
    until :func:`_tempdirs.remove_tree_quietly
    <testsupport._tempdirs.remove_tree_quietly>` removes it or the process
    exits, and once the process is dead (SIGKILL included) the next
    :func:`remove_dead_private_dirs` in that base removes it; processes in
    other pid namespaces or containers sharing the base never do while it
    lives. The first call per process and base sweeps it that way.
    """
    import tempfile
    if limit is None:
        limit = platform.sun_path_max
    if candidates is None:
        candidates = [tempfile.gettempdir(), '/tmp']
    length = len(SOCKET_DIR_PREFIX) + 12 + 1 + _SOCKET_NAME_ROOM
    for base in candidates:
        if len(os.path.abspath(base)) + 1 + length <= limit and os.path.isdir(base):
            _sweep_once(platform, base)
            return _tempdirs.make_locked_dir(platform, base, SOCKET_DIR_PREFIX)
    return _tempdirs.make_locked_dir(platform, tempfile.gettempdir(), SOCKET_DIR_PREFIX)


_swept = set()  # type: set[tuple[int, str]]


def _sweep_once(platform, base):
    key = (os.getpid(), base)
    if key not in _swept:
        _swept.add(key)
        remove_dead_private_dirs(platform, base, _system.user_id())


def random_name():
    """12 random hex digits, for unpredictable file names."""
    import random
    return '%012x' % random.getrandbits(48)


_unix_problems = []  # type: list[tuple[object, str | None]]


def unix_bind_problem(platform):
    """None if an AF_UNIX bind works here, else the reason (probed once per platform, cached).

    The reason is a skip message: ``No UNIX Sockets``, or
    ``Requires a functional unix bind(): <error>``.
    """
    for described, problem in _unix_problems:
        if described == platform:
            return problem
    problem = _probe_unix_bind(platform)
    _unix_problems.append((platform, problem))
    return problem


def _probe_unix_bind(platform, make_dir=None):
    if platform.af_unix is None:
        return 'No UNIX Sockets'
    directory = (make_dir or make_private_dir)(platform)
    try:
        error = probe_bind(platform.af_unix, os.path.join(directory, 'probe.sock'))
    finally:
        _tempdirs.remove_tree_quietly(directory)
    return None if error is None else 'Requires a functional unix bind(): %s' % (error,)


def remove_dead_private_dirs(platform, base, uid, now=None):
    """Remove this user's private socket directories in *base* whose creator has died.

    A directory goes only if it is one :func:`make_private_dir` made, owned
    by *uid*, not a symbolic link, and its creator's lock is free: the kernel
    dropped it when the creator died. Never judged by pid, so a live process
    in another pid namespace keeps its directory. Anything odd or unreadable
    is left alone. Returns how many were removed. See
    :func:`_tempdirs.sweep_dead_dirs <testsupport._tempdirs.sweep_dead_dirs>`
    (*now* replaces ``time.time()`` there).
    """
    return _tempdirs.sweep_dead_dirs(platform, base, SOCKET_DIR_PREFIX, uid, now)
