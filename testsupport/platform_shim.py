"""Every operating-system difference testsupport knows, described as data.

Each supported OS is a :class:`Platform`: its socket-option numbers, the flags
Linux folds into ``socket.type``, its errno values, its AF_UNIX path limit and
where its ephemeral port range comes from. Code elsewhere asks the platform
(``current()``) and never reads ``sys.platform``, probes ``hasattr(socket, ...)``
or names an errno itself. Tests hand functions another description
(``WINDOWS``, ``MACOS``, ``FREEBSD``) together with a fake socket, which is how
the branches for systems we cannot run here are exercised.

.. versionadded:: 0.1.0
"""
from __future__ import absolute_import, division, print_function

import errno as _errno
import socket
import sys

from . import _system

__all__ = [
    'FREEBSD',
    'LINUX',
    'MACOS',
    'Platform',
    'WINDOWS',
    'current',
    'detect',
]

# errno names every platform describes; socket errors on Windows carry the
# WinSock (WSAE*) numbers, which is also what Python's errno module holds there.
_SOCKET_ERRNO_NAMES = (
    'EACCES', 'EADDRINUSE', 'EADDRNOTAVAIL', 'EAFNOSUPPORT', 'EBADF',
    'ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'EINVAL', 'ENETUNREACH',
    'ENOPROTOOPT', 'ENOTSOCK', 'EPERM', 'ESRCH', 'ETIMEDOUT',
)

_LINUX_ERRNOS = dict(
    EACCES=13, EADDRINUSE=98, EADDRNOTAVAIL=99, EAFNOSUPPORT=97, EBADF=9,
    ECONNREFUSED=111, ECONNRESET=104, EHOSTUNREACH=113, EINVAL=22,
    ENETUNREACH=101, ENOPROTOOPT=92, ENOTSOCK=88, EPERM=1, ESRCH=3,
    ETIMEDOUT=110,
)
_BSD_ERRNOS = dict(
    EACCES=13, EADDRINUSE=48, EADDRNOTAVAIL=49, EAFNOSUPPORT=47, EBADF=9,
    ECONNREFUSED=61, ECONNRESET=54, EHOSTUNREACH=65, EINVAL=22,
    ENETUNREACH=51, ENOPROTOOPT=42, ENOTSOCK=38, EPERM=1, ESRCH=3,
    ETIMEDOUT=60,
)
_WINDOWS_ERRNOS = dict(
    EACCES=10013, EADDRINUSE=10048, EADDRNOTAVAIL=10049, EAFNOSUPPORT=10047,
    EBADF=10009, ECONNREFUSED=10061, ECONNRESET=10054, EHOSTUNREACH=10065,
    EINVAL=10022, ENETUNREACH=10051, ENOPROTOOPT=10042, ENOTSOCK=10038,
    EPERM=1, ESRCH=3, ETIMEDOUT=10060,
)
# getaddrinfo() failures that mean "name not resolvable right now" (glibc values,
# which are also CPython's fall-backs) plus Windows' WSANO_DATA.
_GAI_ERRNOS = dict(EAI_AGAIN=-3, EAI_FAIL=-4, EAI_NONAME=-2, EAI_NODATA=-5, WSANO_DATA=11004)
_BSD_GAI_ERRNOS = dict(EAI_AGAIN=2, EAI_FAIL=4, EAI_NONAME=8, EAI_NODATA=7, WSANO_DATA=11004)
_WINDOWS_GAI_ERRNOS = dict(EAI_AGAIN=11002, EAI_FAIL=11003, EAI_NONAME=11001,
                           EAI_NODATA=11001, WSANO_DATA=11004)

#: The range every Windows since Vista uses unless an administrator changed it.
_WINDOWS_DEFAULT_RANGE = (49152, 65535)


class Platform(object):
    """One operating system's socket behaviour, as plain data plus small methods.

    Fields (all read-only by convention; use :meth:`replace` for a variant):

    ``name``
        ``'linux'``, ``'macos'``, ``'freebsd'`` or ``'windows'``.
    ``sol_socket``, ``so_reuseaddr``, ``so_reuseport``, ``so_exclusiveaddruse``
        socket-option numbers; ``None`` where the option does not exist.
    ``sock_type_flags``
        bits a kernel may fold into ``socket.type`` (Linux' SOCK_NONBLOCK and
        SOCK_CLOEXEC, which Python 3.6 reports as ``type == 2049``).
    ``af_unix``
        the AF_UNIX family number, ``None`` where Python has no AF_UNIX.
    ``sun_path_max``
        bytes in ``sockaddr_un.sun_path`` including the terminating NUL.
    ``errnos`` / ``gai_errnos``
        ``{'EADDRINUSE': 98, ...}`` for the errors the helpers interpret.
    ``ephemeral_source``
        ``'procfs'`` (a file with "low high"), ``'sysctl'`` (two names) or
        ``'netsh'`` (Windows); ``ephemeral_default`` is used when reading fails.
    ``blackhole_sysctl``
        the sysctl that turns on a TCP blackhole (FreeBSD), else ``None``.
    ``lease_store``
        where port leases live by default: ``'kernel'`` (abstract AF_UNIX names,
        held per network namespace by the kernel: Linux), ``'files'`` (a
        per-user directory) or ``'memory'`` (this process only).
    ``so_peercred``
        the SO_PEERCRED option number (Linux: the uid of an AF_UNIX peer), else ``None``.
    ``port_table``
        where ``_port_tables.port_state()`` reads the local sockets: ``'procfs'``
        (``/proc/net/tcp`` and friends, Linux), else ``None`` (it can't tell).
    ``port_discovery``
        how to find the TCP ports a process listens on: ``'procfs'`` (Linux:
        ``/proc/<pid>/fd`` socket inodes against ``/proc/net/tcp{,6}``),
        ``'lsof'`` (macOS and the BSDs, where ``lsof`` is installed) or
        ``'iphlpapi'`` (Windows ``GetExtendedTcpTable``).
    ``process_groups``
        True where a child can get a session of its own (``setsid``), be
        signalled as a group (``killpg``) and inherit a descriptor across
        ``exec`` (the systemd ``LISTEN_FDS`` protocol): every POSIX system.
    ``file_locking``
        how a process locks a file until it dies: ``'flock'`` (POSIX
        ``fcntl.flock``) or ``'msvcrt'`` (``msvcrt.locking`` on the first byte).
    ``process_table``
        where a process's state and arguments are read: ``'procfs'``
        (``/proc/<pid>/stat`` and ``cmdline``: Linux) or ``None`` (not read).
    ``registry_home``
        where per-user state lives by default: ``'runtime_dir'``
        (``$XDG_RUNTIME_DIR`` when private, else the temp directory, with
        ``~/.cache`` as the fall-back) or ``'localappdata'`` (Windows).
    ``dir_privacy``
        how a directory is known to be private: ``'owner_mode'`` (owned by
        the user, not writable by group or others) or ``'acl'`` (Windows: the
        per-user location is trusted; mode bits mean nothing there).
    ``process_containment``
        how a child server's whole process tree is ended with its test
        (``testsupport._supervisor``): ``'subreaper'`` (Linux: the supervisor is a
        child subreaper, so daemonising descendants are re-parented to it and
        ended too), ``'process_group'`` (macOS, the BSDs: the server's process
        group is signalled; a descendant that calls ``setsid()`` escapes) or
        ``'job_object'`` (Windows: a job object that kills on close).
    """

    _fields = (
        'name', 'sol_socket', 'so_reuseaddr', 'so_reuseport', 'so_exclusiveaddruse',
        'sock_type_flags', 'af_unix', 'sun_path_max', 'errnos', 'gai_errnos',
        'ephemeral_source', 'ephemeral_default', 'ephemeral_sysctls', 'ephemeral_path',
        'blackhole_sysctl', 'has_gethostname', 'lease_store', 'so_peercred', 'port_table',
        'port_discovery', 'process_groups', 'file_locking', 'process_table', 'registry_home',
        'dir_privacy', 'process_containment',
    )

    def __init__(self, **fields):
        missing = set(self._fields) - set(fields)
        unknown = set(fields) - set(self._fields)
        if missing or unknown:
            raise TypeError('Platform() needs exactly the fields %s; missing %s, unknown %s'
                            % (', '.join(self._fields), sorted(missing), sorted(unknown)))
        self.__dict__.update(fields)

    def replace(self, **changes):
        """Return a copy of this description with *changes* applied."""
        fields = dict((name, getattr(self, name)) for name in self._fields)
        fields.update(changes)
        return Platform(**fields)

    def __repr__(self):
        return '<Platform %s>' % self.name

    def __eq__(self, other):
        return isinstance(other, Platform) and all(
            getattr(self, f) == getattr(other, f) for f in self._fields)

    def __ne__(self, other):
        return not self == other

    __hash__ = None

    # -- errno questions -------------------------------------------------
    def errno_of(self, exc):
        """The errno of *exc* (an OSError/socket.error), or None."""
        return getattr(exc, 'errno', None)

    def is_errno(self, exc, *names):
        """True if *exc* carries one of the errnos called *names* on this platform."""
        number = self.errno_of(exc)
        return number is not None and number in [self.errnos[n] for n in names]

    def is_address_taken(self, exc):
        """True if a bind() failed because the address is in use or reserved.

        EACCES counts as taken: Windows reserves "excluded port ranges" (Hyper-V,
        WSL, Docker) and refuses binds in them with WSAEACCES.
        """
        return self.is_errno(exc, 'EADDRINUSE', 'EACCES')

    def is_family_mismatch(self, exc):
        """True if bind() refused an address of the other family without an errno (PyPy).

        CPython raises ``socket.gaierror`` for an IPv4 address on an AF_INET6
        socket; PyPy raises ``OSError('address family mismatched')``.
        """
        return self.errno_of(exc) is None and 'family mismatched' in str(exc)

    def is_fd_exhausted(self, exc):
        """True if *exc* is EMFILE or ENFILE: no file descriptor left."""
        return getattr(exc, 'errno', None) in (_errno.EMFILE, _errno.ENFILE)

    def is_permission_error(self, exc):
        """True if *exc* means "not allowed" (EACCES or EPERM)."""
        return self.is_errno(exc, 'EACCES', 'EPERM')

    def conn_refused_errnos(self, ipv6_enabled):
        """The errnos a refused connection can produce, in CPython's order."""
        names = ['ECONNREFUSED', 'ENETUNREACH', 'EADDRNOTAVAIL', 'EHOSTUNREACH']
        if not ipv6_enabled:
            names.append('EAFNOSUPPORT')
        return [self.errnos[n] for n in names]

    def transient_errnos(self):
        """The errnos transient_internet() treats as "network not available"."""
        names = ['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH',
                 'ETIMEDOUT', 'EADDRNOTAVAIL']
        return [self.errnos[n] for n in names]

    def transient_gai_errnos(self):
        """The getaddrinfo() errnos transient_internet() treats as transient."""
        return sorted(set(self.gai_errnos.values()))

    # -- socket questions ------------------------------------------------
    def socket_type(self, sock):
        """``sock.type`` without the SOCK_NONBLOCK/SOCK_CLOEXEC bits (3.6 reports 2049)."""
        return int(sock.type) & ~self.sock_type_flags

    def reuse_options_set(self, sock):
        """Names of the address-reuse options set on *sock*, e.g. ``['SO_REUSEADDR']``.

        A kernel older than the headers Python was built with answers
        ENOPROTOOPT (or EINVAL) for SO_REUSEPORT; that counts as not set.
        """
        found = []
        options = [('SO_REUSEADDR', self.so_reuseaddr, False),
                   ('SO_REUSEPORT', self.so_reuseport, True)]
        for name, number, tolerate in options:
            if number is None:
                continue
            try:
                value = sock.getsockopt(self.sol_socket, number)
            except (OSError, socket.error) as exc:
                if tolerate and self.is_errno(exc, 'ENOPROTOOPT', 'EINVAL'):
                    continue
                raise
            if value:
                found.append(name)
        return found

    def make_exclusive(self, sock):
        """Set SO_EXCLUSIVEADDRUSE where it exists (Windows); a no-op elsewhere.

        On Unix a bound TCP port is already exclusive unless SO_REUSEADDR or
        SO_REUSEPORT is set, which ``bind_port`` refuses.
        """
        if self.so_exclusiveaddruse is not None:
            sock.setsockopt(self.sol_socket, self.so_exclusiveaddruse, 1)

    # -- system questions ------------------------------------------------
    def ephemeral_port_range(self, read_file=None, run=None):
        """The OS ephemeral port range as ``(low, high)``, inclusive.

        Linux reads ``/proc/sys/net/ipv4/ip_local_port_range``, macOS and the BSDs
        ask ``sysctl -n net.inet.ip.portrange.first/last``, Windows asks
        ``netsh int ipv4 show dynamicport tcp``. When that fails the platform's
        documented default is returned. *read_file* and *run* replace file reading
        and command running (tests pass fakes).
        """
        read_file = read_file or _system.read_text_file
        run = run or _system.run_command
        low = high = None
        if self.ephemeral_source == 'procfs':
            text = read_file(self.ephemeral_path)
            parts = (text or '').split()
            if len(parts) == 2:
                low, high = _system.to_int(parts[0]), _system.to_int(parts[1])
        elif self.ephemeral_source == 'sysctl':
            low = _system.to_int(_sysctl(self.ephemeral_sysctls[0], run))
            high = _system.to_int(_sysctl(self.ephemeral_sysctls[1], run))
        elif self.ephemeral_source == 'netsh':
            low, count = _parse_netsh(run(['netsh', 'int', 'ipv4', 'show', 'dynamicport', 'tcp']))
            if low is not None and count is not None:
                high = low + count - 1
        if low is None or high is None or not (0 < low <= high <= 65535):
            return self.ephemeral_default
        return (low, high)

    def tcp_blackhole(self, run=None):
        """True if the FreeBSD TCP blackhole sysctl is on (gh-109015); else False."""
        if self.blackhole_sysctl is None:
            return False
        value = _system.to_int(_sysctl(self.blackhole_sysctl, run or _system.run_command))
        return bool(value)


def _sysctl(name, run):
    returncode, output = run(['sysctl', '-n', name])
    return output if returncode == 0 else None


def _parse_netsh(result):
    returncode, output = result
    low = count = None
    if returncode == 0:
        for line in output.splitlines():
            key, _, value = line.partition(':')
            key = key.strip().lower()
            if key == 'start port':
                low = _system.to_int(value)
            elif key == 'number of ports':
                count = _system.to_int(value)
    return low, count


LINUX = Platform(
    name='linux', sol_socket=1, so_reuseaddr=2, so_reuseport=15, so_exclusiveaddruse=None,
    sock_type_flags=0o4000 | 0o2000000, af_unix=1, sun_path_max=108,
    errnos=_LINUX_ERRNOS, gai_errnos=_GAI_ERRNOS,
    ephemeral_source='procfs', ephemeral_default=(32768, 60999), ephemeral_sysctls=None,
    ephemeral_path='/proc/sys/net/ipv4/ip_local_port_range',
    blackhole_sysctl=None, has_gethostname=True, lease_store='kernel', so_peercred=17,
    port_table='procfs',
    port_discovery='procfs', process_groups=True, file_locking='flock',
    process_table='procfs', registry_home='runtime_dir', dir_privacy='owner_mode',
    process_containment='subreaper',
)
MACOS = Platform(
    name='macos', sol_socket=0xffff, so_reuseaddr=0x4, so_reuseport=0x200,
    so_exclusiveaddruse=None, sock_type_flags=0, af_unix=1, sun_path_max=104,
    errnos=_BSD_ERRNOS, gai_errnos=_BSD_GAI_ERRNOS,
    ephemeral_source='sysctl', ephemeral_default=(49152, 65535),
    ephemeral_sysctls=('net.inet.ip.portrange.first', 'net.inet.ip.portrange.last'),
    ephemeral_path=None, blackhole_sysctl=None, has_gethostname=True, lease_store='files',
    so_peercred=None, port_table=None,
    port_discovery='lsof', process_groups=True, file_locking='flock',
    process_table=None, registry_home='runtime_dir', dir_privacy='owner_mode',
    process_containment='process_group',
)
FREEBSD = MACOS.replace(
    name='freebsd', sock_type_flags=0x20000000 | 0x10000000,
    ephemeral_default=(10000, 65535), blackhole_sysctl='net.inet.tcp.blackhole',
)
WINDOWS = Platform(
    name='windows', sol_socket=0xffff, so_reuseaddr=0x4, so_reuseport=None,
    so_exclusiveaddruse=~0x4, sock_type_flags=0, af_unix=None, sun_path_max=108,
    errnos=_WINDOWS_ERRNOS, gai_errnos=_WINDOWS_GAI_ERRNOS,
    ephemeral_source='netsh', ephemeral_default=_WINDOWS_DEFAULT_RANGE,
    ephemeral_sysctls=None, ephemeral_path=None, blackhole_sysctl=None,
    has_gethostname=True, lease_store='files', so_peercred=None, port_table=None,
    port_discovery='iphlpapi', process_groups=False, file_locking='msvcrt',
    process_table=None, registry_home='localappdata',
    dir_privacy='acl', process_containment='job_object',
)

_BY_PREFIX = (
    ('linux', LINUX),
    ('win32', WINDOWS),
    ('cygwin', LINUX.replace(name='cygwin', lease_store='files', so_peercred=None,
                             port_table=None, process_containment='process_group')),
    ('darwin', MACOS),
    ('freebsd', FREEBSD),
    ('openbsd', MACOS.replace(name='openbsd', ephemeral_default=(49152, 65535))),
    ('netbsd', MACOS.replace(name='netbsd')),
    ('dragonfly', FREEBSD.replace(name='dragonfly', blackhole_sysctl=None)),
    ('sunos', LINUX.replace(name='sunos', ephemeral_source='fixed', lease_store='files',
                            so_peercred=None, ephemeral_default=(32768, 65535),
                            port_table=None, process_table=None,
                            process_containment='process_group')),
    ('wasi', LINUX.replace(name='wasi', has_gethostname=False, af_unix=None,
                           lease_store='memory', so_peercred=None, port_table=None,
                           process_table=None)),
)


def detect(sys_platform, socket_module, errno_module=None):
    """Describe the platform named by *sys_platform* as *socket_module* builds it.

    The OS template is chosen by the ``sys.platform`` prefix (unknown systems get
    Linux's, the most common POSIX behaviour). Then the socket module decides
    which options exist: an option or AF_UNIX missing from *socket_module* is
    ``None`` here, and the numbers it has win over the template's, as do the
    errno numbers of *errno_module* when given. Tests pass ``'win32'`` and a fake
    module; :func:`current` passes the real ones.
    """
    template = LINUX
    for prefix, candidate in _BY_PREFIX:
        if sys_platform.startswith(prefix):
            template = candidate
            break
    changes = {}
    for field, attr in (('sol_socket', 'SOL_SOCKET'), ('so_reuseaddr', 'SO_REUSEADDR'),
                        ('so_reuseport', 'SO_REUSEPORT'),
                        ('so_exclusiveaddruse', 'SO_EXCLUSIVEADDRUSE'),
                        ('af_unix', 'AF_UNIX')):
        value = getattr(socket_module, attr, None)
        if field == 'sol_socket' and value is None:
            continue
        changes[field] = None if value is None else int(value)
    flags = 0
    for attr in ('SOCK_NONBLOCK', 'SOCK_CLOEXEC'):
        flags |= int(getattr(socket_module, attr, 0))
    changes['sock_type_flags'] = flags or template.sock_type_flags
    if errno_module is not None:
        errnos = dict(template.errnos)
        for name in _SOCKET_ERRNO_NAMES:
            if template.name != 'windows' and hasattr(errno_module, name):
                errnos[name] = getattr(errno_module, name)
        changes['errnos'] = errnos
        gai = dict(template.gai_errnos)
        for name in gai:
            if hasattr(socket_module, name):
                gai[name] = int(getattr(socket_module, name))
        changes['gai_errnos'] = gai
    return template.replace(**changes)


_current = []


def current():
    """The :class:`Platform` this process runs on (computed once, then cached)."""
    if not _current:
        _current.append(detect(sys.platform, socket, _errno))
    return _current[0]
