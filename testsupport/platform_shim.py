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
import os
import socket
import sys

__all__ = [
    'FREEBSD',
    'LINUX',
    'MACOS',
    'OddFileError',
    'Platform',
    'PortState',
    'WINDOWS',
    'create_file_exclusive',
    'current',
    'default_registry_dir',
    'detect',
    'fallback_registry_dir',
    'fd_soft_limit',
    'host_name',
    'is_file_exists_error',
    'is_file_missing_error',
    'listening_ports',
    'lock_fd',
    'open_lock_file',
    'peer_uid',
    'port_state',
    'private_dir_problem',
    'probe_bind',
    'process_alive',
    'process_start_marker',
    'process_tree',
    'read_small_file',
    'remove_quietly',
    'remove_tree_quietly',
    'rewrite_file',
    'set_non_inheritable',
    'signal_process_group',
    'unlock_fd',
    'user_id',
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
        where :func:`port_state` reads the local sockets: ``'procfs'``
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
    """

    _fields = (
        'name', 'sol_socket', 'so_reuseaddr', 'so_reuseport', 'so_exclusiveaddruse',
        'sock_type_flags', 'af_unix', 'sun_path_max', 'errnos', 'gai_errnos',
        'ephemeral_source', 'ephemeral_default', 'ephemeral_sysctls', 'ephemeral_path',
        'blackhole_sysctl', 'has_gethostname', 'lease_store', 'so_peercred', 'port_table',
        'port_discovery', 'process_groups',
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
        read_file = read_file or _read_file
        run = run or _run
        low = high = None
        if self.ephemeral_source == 'procfs':
            text = read_file(self.ephemeral_path)
            parts = (text or '').split()
            if len(parts) == 2:
                low, high = _to_int(parts[0]), _to_int(parts[1])
        elif self.ephemeral_source == 'sysctl':
            low = _to_int(_sysctl(self.ephemeral_sysctls[0], run))
            high = _to_int(_sysctl(self.ephemeral_sysctls[1], run))
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
        value = _to_int(_sysctl(self.blackhole_sysctl, run or _run))
        return bool(value)


def _to_int(text):
    try:
        return int(str(text).strip())
    except (TypeError, ValueError):
        return None


def _read_file(path):
    try:
        with open(path) as fp:
            return fp.read()
    except (IOError, OSError):
        return None


def _run(cmd):
    """Run *cmd*; return ``(returncode, output)``, or ``(None, '')`` if it can't start."""
    import subprocess
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                universal_newlines=True)
    except (IOError, OSError):
        return None, ''
    output = proc.communicate()[0]
    return proc.returncode, output


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
                low = _to_int(value)
            elif key == 'number of ports':
                count = _to_int(value)
    return low, count


LINUX = Platform(
    name='linux', sol_socket=1, so_reuseaddr=2, so_reuseport=15, so_exclusiveaddruse=None,
    sock_type_flags=0o4000 | 0o2000000, af_unix=1, sun_path_max=108,
    errnos=_LINUX_ERRNOS, gai_errnos=_GAI_ERRNOS,
    ephemeral_source='procfs', ephemeral_default=(32768, 60999), ephemeral_sysctls=None,
    ephemeral_path='/proc/sys/net/ipv4/ip_local_port_range',
    blackhole_sysctl=None, has_gethostname=True, lease_store='kernel', so_peercred=17,
    port_table='procfs',
    port_discovery='procfs', process_groups=True,
)
MACOS = Platform(
    name='macos', sol_socket=0xffff, so_reuseaddr=0x4, so_reuseport=0x200,
    so_exclusiveaddruse=None, sock_type_flags=0, af_unix=1, sun_path_max=104,
    errnos=_BSD_ERRNOS, gai_errnos=_BSD_GAI_ERRNOS,
    ephemeral_source='sysctl', ephemeral_default=(49152, 65535),
    ephemeral_sysctls=('net.inet.ip.portrange.first', 'net.inet.ip.portrange.last'),
    ephemeral_path=None, blackhole_sysctl=None, has_gethostname=True, lease_store='files',
    so_peercred=None, port_table=None,
    port_discovery='lsof', process_groups=True,
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
    port_discovery='iphlpapi', process_groups=False,
)

_BY_PREFIX = (
    ('linux', LINUX),
    ('win32', WINDOWS),
    ('cygwin', LINUX.replace(name='cygwin', lease_store='files', so_peercred=None,
                             port_table=None)),
    ('darwin', MACOS),
    ('freebsd', FREEBSD),
    ('openbsd', MACOS.replace(name='openbsd', ephemeral_default=(49152, 65535))),
    ('netbsd', MACOS.replace(name='netbsd')),
    ('dragonfly', FREEBSD.replace(name='dragonfly', blackhole_sysctl=None)),
    ('sunos', LINUX.replace(name='sunos', ephemeral_source='fixed', lease_store='files',
                            so_peercred=None, ephemeral_default=(32768, 65535),
                            port_table=None)),
    ('wasi', LINUX.replace(name='wasi', has_gethostname=False, af_unix=None,
                           lease_store='memory', so_peercred=None, port_table=None)),
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


def remove_quietly(path):
    """Remove the file *path*; a missing file is fine, other errors propagate."""
    try:
        os.unlink(path)
    except (OSError, IOError) as exc:
        if exc.errno != _errno.ENOENT:
            raise


def remove_tree_quietly(path):
    """Remove the directory *path* and its contents; a missing one is fine.

    Other errors propagate.
    """
    try:
        import shutil
        shutil.rmtree(path)
    except (OSError, IOError) as exc:
        if exc.errno != _errno.ENOENT:
            raise


# -- Port leases (testsupport.allocator): file locks, process liveness, private
# directories. Each OS's way is chosen from the Platform passed in; the system
# modules are parameters, so tests describe Windows with fakes.

#: GetExitCodeProcess() reports this while a Windows process runs.
_WINDOWS_STILL_ACTIVE = 259
#: OpenProcess() access right enough to ask for the exit code.
_WINDOWS_QUERY_LIMITED_INFORMATION = 0x1000
#: GetLastError() after OpenProcess() on another user's process.
_WINDOWS_ACCESS_DENIED = 5
#: msvcrt.locking(LK_LOCK) gives up after 10 seconds; try this many times.
_WINDOWS_LOCK_ATTEMPTS = 6


def is_file_exists_error(exc):
    """True if the file-system error *exc* is EEXIST (``O_EXCL`` found a file)."""
    return getattr(exc, 'errno', None) == _errno.EEXIST


def is_file_missing_error(exc):
    """True if the file-system error *exc* is ENOENT."""
    return getattr(exc, 'errno', None) == _errno.ENOENT


def user_id(os_module=os):
    """The effective user id, or None where there is none (Windows)."""
    geteuid = getattr(os_module, 'geteuid', None)
    return geteuid() if geteuid is not None else None


def lock_fd(platform, fd, lock_module=None):
    """Block until this process holds the exclusive lock on the open file *fd*.

    POSIX uses ``fcntl.flock(fd, LOCK_EX)``; Windows ``msvcrt.locking`` on the
    first byte, retried while another process holds it (each try waits up to 10
    seconds; after a minute the last error propagates). The kernel drops the
    lock when the process dies, even by SIGKILL. *lock_module* replaces
    ``fcntl``/``msvcrt`` (tests pass a fake).
    """
    if platform.name == 'windows':
        msvcrt = lock_module or __import__('msvcrt')
        for attempt in range(_WINDOWS_LOCK_ATTEMPTS):
            os.lseek(fd, 0, 0)  # msvcrt locks from the current position
            try:
                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                return
            except (IOError, OSError):
                if attempt == _WINDOWS_LOCK_ATTEMPTS - 1:
                    raise
    else:
        fcntl = lock_module or __import__('fcntl')
        fcntl.flock(fd, fcntl.LOCK_EX)


def unlock_fd(platform, fd, lock_module=None):
    """Release the lock :func:`lock_fd` took on *fd*."""
    if platform.name == 'windows':
        msvcrt = lock_module or __import__('msvcrt')
        os.lseek(fd, 0, 0)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        fcntl = lock_module or __import__('fcntl')
        fcntl.flock(fd, fcntl.LOCK_UN)


#: Flags that keep an open() from following a symbolic link or blocking on a FIFO.
_SAFE_OPEN_FLAGS = getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_NONBLOCK', 0)


class OddFileError(EnvironmentError):
    """A registry entry that is not a small regular file (a link, FIFO, directory, huge file)."""


def read_small_file(path, limit):
    """``(data, mtime)`` of the regular file *path*, at most *limit* bytes of it.

    Never follows a symbolic link, never blocks (a FIFO or device is refused
    before it is read) and never reads more than *limit* + 1 bytes.
    :class:`OddFileError` for anything but a regular file of at most *limit*
    bytes; other OS errors (ENOENT, EACCES, ELOOP for a link) propagate.
    """
    import stat as _stat
    fd = os.open(path, os.O_RDONLY | _SAFE_OPEN_FLAGS)
    try:
        info = os.fstat(fd)
        if not _stat.S_ISREG(info.st_mode):
            raise OddFileError(_errno.EINVAL, 'not a regular file', path)
        data = os.read(fd, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise OddFileError(_errno.EFBIG, 'larger than %d bytes' % limit, path)
    return data, info.st_mtime


def create_file_exclusive(path, data):
    """Create *path* (mode 0600) holding *data*; EEXIST if anything is there, links included.

    If writing fails (a full disk), the file is removed again and the error propagates.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _SAFE_OPEN_FLAGS, 0o600)
    try:
        os.write(fd, data)
    except BaseException:
        os.close(fd)
        remove_quietly(path)
        raise
    os.close(fd)


def rewrite_file(path, data):
    """Replace the contents of the existing regular file *path* (no link is followed)."""
    import stat as _stat
    fd = os.open(path, os.O_WRONLY | _SAFE_OPEN_FLAGS)
    try:
        if not _stat.S_ISREG(os.fstat(fd).st_mode):
            raise OddFileError(_errno.EINVAL, 'not a regular file', path)
        os.ftruncate(fd, 0)
        os.write(fd, data)
    finally:
        os.close(fd)


def open_lock_file(path):
    """Open (creating it 0600) the lock file *path* without following a link; the fd."""
    import stat as _stat
    fd = os.open(path, os.O_RDWR | os.O_CREAT | _SAFE_OPEN_FLAGS, 0o600)
    if not _stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OddFileError(_errno.EINVAL, 'not a regular file', path)
    return fd


def fallback_registry_dir(platform, environ, hostname):
    """Where a user's registry goes when the default location belongs to someone else.

    Under the user's home directory, which no other user can create entries in,
    keyed by host name (home directories are often shared between machines):
    ``~/.cache/testsupport/ports-<host>`` (``$XDG_CACHE_HOME`` if set). None on
    Windows, whose default is already per-user, and where no home is known.
    Relative paths are ignored (the XDG spec says so: they would depend on the
    working directory).
    """
    if platform.name == 'windows':
        return None
    cache = environ.get('XDG_CACHE_HOME', '')
    if not os.path.isabs(cache):
        home = environ.get('HOME', '')
        cache = os.path.join(home, '.cache') if os.path.isabs(home) else None
    if not cache:
        return None
    return os.path.join(cache, 'testsupport', 'ports-%s' % (hostname or 'localhost',))


def host_name():
    """This machine's host name, for keying per-machine state ('' if unknown)."""
    try:
        return socket.gethostname()
    except (OSError, socket.error):
        return ''


def peer_uid(platform, sock):
    """The user id of the process at the other end of the AF_UNIX socket *sock*, or None."""
    if platform.so_peercred is None:
        return None
    import struct
    try:
        data = sock.getsockopt(platform.sol_socket, platform.so_peercred, struct.calcsize('3i'))
    except (OSError, socket.error):
        return None
    return struct.unpack('3i', data)[1]


def fd_soft_limit():
    """This process's soft limit on open file descriptors, or None where unknown (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return None if soft == resource.RLIM_INFINITY or soft <= 0 else soft


def set_non_inheritable(fd):
    """Keep *fd* from being inherited by programs this process starts (FD_CLOEXEC).

    Python 3 creates descriptors that way already; 2.7 does not.
    """
    try:
        import fcntl
    except ImportError:  # Windows: 2.7 handles are not inherited by default either
        return
    flags = fcntl.fcntl(fd, fcntl.F_GETFD)
    fcntl.fcntl(fd, fcntl.F_SETFD, flags | fcntl.FD_CLOEXEC)


def _linux_proc_stat(pid, read_file):
    """``(state, start_time)`` from ``/proc/<pid>/stat``, or None if unreadable."""
    text = read_file('/proc/%d/stat' % pid)
    if not text or ')' not in text:
        return None
    fields = text.rsplit(')', 1)[1].split()
    if len(fields) < 20:
        return None
    return fields[0], fields[19]


def process_start_marker(platform, pid, read_file=None):
    """Text that changes when the process id *pid* is reused, or None.

    Linux: the start time from ``/proc/<pid>/stat``. Elsewhere None: liveness
    then rests on the pid alone, and a reused pid keeps a lease until it expires.
    """
    if platform.name not in ('linux', 'cygwin'):
        return None
    stat = _linux_proc_stat(pid, read_file or _read_file)
    return None if stat is None else stat[1]


def process_alive(platform, pid, start_marker=None, kill=None, read_file=None,
                  kernel32=None):
    """True unless process *pid* (started at *start_marker*) has certainly exited.

    POSIX: ``kill(pid, 0)``; ESRCH means gone, EPERM means another user's
    process. On Linux a zombie, or a different start time than *start_marker*
    (the pid was reused, also by another user's process), also means gone. A
    pid <= 0 is never alive. Windows: ``OpenProcess`` and
    ``GetExitCodeProcess`` (``os.kill`` would terminate the process there).
    *kill*, *read_file* and *kernel32* replace ``os.kill``, file reading and
    ``ctypes.windll.kernel32`` (tests pass fakes).
    """
    if platform.name == 'windows':
        return _windows_process_alive(pid, kernel32)
    if pid <= 0:
        return False  # kill(0) and kill(-1) signal process groups: never a lease owner
    kill = kill or os.kill
    try:
        kill(pid, 0)
    except (OSError, IOError) as exc:
        if exc.errno != _errno.EPERM:
            return False
        # EPERM: another user's process, maybe one that reused the pid: the start
        # time below still tells.
    if platform.name in ('linux', 'cygwin'):
        stat = _linux_proc_stat(pid, read_file or _read_file)
        if stat is not None:
            if stat[0] in ('Z', 'X'):
                return False
            if start_marker is not None and stat[1] != start_marker:
                return False
    return True


def _windows_process_alive(pid, kernel32=None):
    import ctypes
    if kernel32 is None:
        kernel32 = ctypes.windll.kernel32  # pragma: no cover (windows)
    handle = kernel32.OpenProcess(_WINDOWS_QUERY_LIMITED_INFORMATION, False, pid)
    if not handle:
        return kernel32.GetLastError() == _WINDOWS_ACCESS_DENIED
    try:
        code = ctypes.c_ulong(0)
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == _WINDOWS_STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def private_dir_problem(platform, path, uid, lstat=None):
    """None if *path* is a directory that only user *uid* can write, else what is wrong.

    The answer is text for an error message, e.g. ``'is owned by uid 12345, not
    by you (uid 0)'`` or ``'is writable by group or others (mode 0777)'``. On
    Windows (no uid; ACLs, not mode bits) only "is a directory" is checked:
    ``%LOCALAPPDATA%`` is per-user. Errors from *lstat* (default ``os.lstat``),
    such as a missing path, propagate.
    """
    import stat as _stat
    info = (lstat or os.lstat)(path)
    if _stat.S_ISLNK(info.st_mode):
        return 'is a symbolic link'
    if not _stat.S_ISDIR(info.st_mode):
        return 'is not a directory'
    if platform.name == 'windows' or uid is None:
        return None
    if info.st_uid != uid:
        return 'is owned by uid %d, not by you (uid %d)' % (info.st_uid, uid)
    if info.st_mode & 0o022:
        return 'is writable by group or others (mode %04o)' % _stat.S_IMODE(info.st_mode)
    return None


def default_registry_dir(platform, environ, tempdir, uid, lstat=None):
    """Where the port registry of user *uid* lives by default.

    Windows: ``%LOCALAPPDATA%\\testsupport`` (the temp directory if unset).
    Elsewhere: ``$XDG_RUNTIME_DIR/testsupport`` when that directory is set and
    private to *uid*, else ``<tempdir>/testsupport-<uid>``.
    """
    if platform.name == 'windows':
        return os.path.join(environ.get('LOCALAPPDATA') or tempdir, 'testsupport')
    runtime = environ.get('XDG_RUNTIME_DIR')
    if runtime:
        try:
            problem = private_dir_problem(platform, runtime, uid, lstat)
        except (OSError, IOError):
            problem = 'is missing'
        if problem is None:
            return os.path.join(runtime, 'testsupport')
    return os.path.join(tempdir, 'testsupport-%s' % (uid,))


# -- The state of a local port, read without connecting to it (servers.port_in_use
# and the mixin's assertions). Linux lists its sockets in /proc/net; elsewhere
# the answer is None and callers fall back to a bind() probe.

#: TCP state codes of /proc/net/tcp (include/net/tcp_states.h): (kind, name).
_TCP_STATES = {
    '01': ('connected', 'ESTABLISHED'), '02': ('connected', 'SYN_SENT'),
    '03': ('connected', 'SYN_RECV'), '04': ('connected', 'FIN_WAIT1'),
    '05': ('connected', 'FIN_WAIT2'), '06': ('time_wait', 'TIME_WAIT'),
    '07': ('bound', 'CLOSE'), '08': ('connected', 'CLOSE_WAIT'),
    '09': ('connected', 'LAST_ACK'), '0A': ('listening', 'LISTEN'),
    '0B': ('connected', 'CLOSING'), '0C': ('connected', 'NEW_SYN_RECV'),
}
#: /proc/net/udp reuses the codes: 07 is a bound, unconnected socket, 01 a connected one.
_UDP_STATES = {'01': ('connected', 'ESTABLISHED'), '07': ('bound', 'UNCONN')}
#: Which kind wins when several sockets hold the port.
_KIND_ORDER = ('listening', 'connected', 'bound', 'time_wait')
_V4_MAPPED = bytearray(b'\0' * 10 + b'\xff\xff')


class PortState(object):
    """What :func:`port_state` found: ``state`` and where it read it.

    ``state`` is ``'listening'``, ``'connected'`` (a connection uses the port
    as its local port), ``'bound'`` (a UDP socket, or a TCP socket the table
    shows in CLOSE), ``'time_wait'`` or ``'free'`` (no socket in the table
    holds the address). ``table_state`` is the table's name for it
    (``'LISTEN'``, ``'TIME_WAIT'``, ``'UNCONN'``; None when free), ``source``
    the file(s) read and ``address`` the local address of the socket found
    (e.g. ``'0.0.0.0'`` for a wildcard that covers the host; None when free).

    .. versionadded:: 0.1.0
    """

    __slots__ = ('state', 'table_state', 'source', 'address')

    def __init__(self, state, table_state=None, source=None, address=None):
        self.state = state
        self.table_state = table_state
        self.source = source
        self.address = address

    def __eq__(self, other):
        return isinstance(other, PortState) and all(
            getattr(self, f) == getattr(other, f) for f in self.__slots__)

    def __ne__(self, other):
        return not self == other

    __hash__ = None

    def __repr__(self):
        return 'PortState(%s)' % ', '.join('%s=%r' % (f, getattr(self, f))
                                           for f in self.__slots__)


def port_state(platform, port, host, family, socktype, read_file=None, byteorder=None):
    """How the local sockets hold (*host*, *port*), found without connecting.

    Returns a :class:`PortState`, or None where this platform has no table to
    read (``platform.port_table`` is None: macOS, BSD, Windows), the table is
    unreadable, *host* is not an IP address literal (a name such as
    ``'localhost'``) or *socktype* is neither SOCK_STREAM nor SOCK_DGRAM.
    Linux (``'procfs'``) reads ``/proc/net/{tcp,udp}`` and their ``6`` twins,
    and counts a socket whose local address is *host*, a wildcard of the same
    family (``0.0.0.0``, ``::``) or, for IPv4, its v4-mapped form
    (``::ffff:127.0.0.1``); a dual-stack ``[::]`` socket is not counted, since
    the table does not say whether it is IPv6-only. The table omits TCP
    sockets that are bound but not listening, so ``'free'`` does not promise
    that ``bind()`` works. *read_file* replaces file reading and *byteorder*
    ``sys.byteorder`` (the kernel prints addresses as native 32-bit words);
    tests pass both.

    .. versionadded:: 0.1.0
    """
    if platform.port_table != 'procfs':
        return None
    states = {socket.SOCK_STREAM: ('tcp', _TCP_STATES),
              socket.SOCK_DGRAM: ('udp', _UDP_STATES)}.get(socktype)
    wanted = _ip_bytes(family, host)
    if states is None or wanted is None:
        return None
    name, codes = states
    read_file = read_file or _read_file
    shifts = (0, 8, 16, 24) if (byteorder or sys.byteorder) == 'little' else (24, 16, 8, 0)
    read, found = [], []
    for path in ('/proc/net/' + name, '/proc/net/' + name + '6'):
        text = read_file(path)
        if text is None:
            continue
        read.append(path)
        for line in text.splitlines():
            entry = _parse_port_table_line(line, shifts)
            if entry is None or entry[1] != port or entry[2] not in codes:
                continue
            if _address_covers(entry[0], wanted):
                kind, state_name = codes[entry[2]]
                found.append((_KIND_ORDER.index(kind), kind, state_name, path, entry[0]))
    if not read:
        return None
    if not found:
        return PortState('free', source=' and '.join(read))
    _, kind, state_name, path, address = min(found, key=lambda item: item[0])
    family_of = socket.AF_INET if len(address) == 4 else socket.AF_INET6
    return PortState(kind, state_name, path, socket.inet_ntop(family_of, bytes(address)))


def _ip_bytes(family, host):
    """*host* as a bytearray of 4 or 16 bytes, or None if it is not a literal of *family*."""
    if family not in (socket.AF_INET, getattr(socket, 'AF_INET6', None)):
        return None
    try:
        return bytearray(socket.inet_pton(family, host))
    except (ValueError, TypeError, OSError, socket.error):
        return None


def _parse_port_table_line(line, shifts):
    """``(address bytes, port, state code)`` of one /proc/net line, or None (the header)."""
    fields = line.split()
    if len(fields) < 4 or ':' not in fields[1]:
        return None
    address, _, port = fields[1].partition(':')
    if len(address) not in (8, 32):
        return None
    try:
        raw = bytearray((int(address[i:i + 8], 16) >> shift) & 0xff
                        for i in range(0, len(address), 8) for shift in shifts)
        return raw, int(port, 16), fields[3].upper()
    except ValueError:
        return None


def _address_covers(entry, wanted):
    """True if a socket on the address *entry* keeps a plain bind() to *wanted* from working.

    Both are bytearrays; IPv4-mapped IPv6 addresses count as IPv4. Equal
    addresses cover each other, and a wildcard (all zero) covers its family.
    """
    if len(entry) == 16 and entry[:12] == _V4_MAPPED:
        entry = entry[12:]
    if len(wanted) == 16 and wanted[:12] == _V4_MAPPED:
        wanted = wanted[12:]
    if len(entry) != len(wanted):
        return False
    return entry == wanted or not any(entry) or not any(wanted)
# -- Server processes (servers.start_server_process): which TCP ports a process
# tree listens on, and ending its process group. The system calls are
# parameters, so tests describe macOS and Windows with fakes.

#: The TCP state ``/proc/net/tcp`` writes for LISTEN.
_PROCFS_LISTEN = '0A'
#: MIB_TCP_STATE_LISTEN, and GetExtendedTcpTable's TCP_TABLE_OWNER_PID_LISTENER.
_WINDOWS_TCP_STATE_LISTEN = 2
_WINDOWS_TCP_TABLE_OWNER_PID_LISTENER = 3
_WINDOWS_ERROR_INSUFFICIENT_BUFFER = 122
#: Windows' AF_INET6 (23); AF_INET is 2 everywhere.
_WINDOWS_AF_INET6 = 23


def _list_dir(path):
    return os.listdir(path)


def _read_link(path):
    return os.readlink(path)


def process_tree(platform, pid, read_file=None, list_dir=None):
    """*pid* and every process descending from it or in its process group, sorted.

    Linux reads the parent and group ids in ``/proc/<n>/stat``; a child that
    daemonised (re-parented to init) is still found while it keeps the process
    group. Elsewhere ``[pid]``: ``lsof -g`` selects the whole group itself, and
    Windows has no process groups. *read_file* and *list_dir* replace file
    reading and ``os.listdir`` (tests pass fakes).
    """
    if platform.port_discovery != 'procfs':
        return [pid]
    read_file = read_file or _read_file
    list_dir = list_dir or _list_dir
    try:
        names = list_dir('/proc')
    except (OSError, IOError):
        return [pid]
    parents = {}
    found = set([pid])
    for name in names:
        if not name.isdigit():
            continue
        text = read_file('/proc/%s/stat' % name)
        if not text or ')' not in text:
            continue
        fields = text.rsplit(')', 1)[1].split()  # state, ppid, pgrp, ...
        if len(fields) < 3:
            continue
        parents[int(name)] = int(fields[1])
        if int(fields[2]) == pid:
            found.add(int(name))
    grown = True
    while grown:
        grown = False
        for child, parent in parents.items():
            if parent in found and child not in found:
                found.add(child)
                grown = True
    return sorted(found)


def listening_ports(platform, pid, read_file=None, list_dir=None, read_link=None, run=None,
                    tcp_table=None):
    """The ``(host, port)`` TCP addresses the process tree of *pid* listens on, sorted.

    *host* is as the kernel reports it (``'0.0.0.0'`` or ``'::'`` for a wildcard
    bind). How depends on ``platform.port_discovery``: ``'procfs'`` matches the
    socket inodes in ``/proc/<n>/fd`` of :func:`process_tree` against the LISTEN
    rows (state 0A) of ``/proc/net/tcp`` and ``tcp6``; ``'lsof'`` runs ``lsof -a
    -g <pid> -iTCP -sTCP:LISTEN`` (the child leads its own process group);
    ``'iphlpapi'`` reads Windows' ``GetExtendedTcpTable`` rows owned by *pid*.

    Returns None when this platform cannot tell (``lsof`` is not installed, or
    the table cannot be read): the caller says so, rather than waiting for a
    port it will never see. *read_file*, *list_dir*, *read_link*, *run* and
    *tcp_table* (``tcp_table(family) -> bytes or None``) replace the system
    calls (tests pass fakes).
    """
    if platform.port_discovery == 'procfs':
        return _procfs_listening(process_tree(platform, pid, read_file, list_dir),
                                 read_file or _read_file, list_dir or _list_dir,
                                 read_link or _read_link)
    if platform.port_discovery == 'lsof':
        return _lsof_listening(pid, run or _run)
    if platform.port_discovery == 'iphlpapi':
        return _windows_listening(pid, tcp_table or _windows_tcp_table)
    return None


def _procfs_host(hex_address):
    """``'0100007F'`` -> ``'127.0.0.1'``: /proc/net/tcp{,6} write 32-bit words in host order."""
    import binascii
    import struct
    raw = binascii.unhexlify(hex_address)
    words = struct.unpack('=%dI' % (len(raw) // 4), raw)
    packed = struct.pack('!%dI' % len(words), *words)
    if len(packed) == 4:
        return socket.inet_ntoa(packed)
    return socket.inet_ntop(socket.AF_INET6, packed)


def _procfs_listening(pids, read_file, list_dir, read_link):
    listeners = {}
    for path in ('/proc/net/tcp', '/proc/net/tcp6'):
        for line in (read_file(path) or '').splitlines()[1:]:
            parts = line.split()
            if len(parts) < 10 or parts[3] != _PROCFS_LISTEN:
                continue
            address, _, port = parts[1].partition(':')
            listeners[parts[9]] = (_procfs_host(address), int(port, 16))
    found = set()
    for pid in pids:
        try:
            names = list_dir('/proc/%d/fd' % pid)
        except (OSError, IOError):  # gone, or not ours to read
            continue
        for name in names:
            try:
                target = read_link('/proc/%d/fd/%s' % (pid, name))
            except (OSError, IOError):
                continue
            if target.startswith('socket:[') and target[8:-1] in listeners:
                found.add(listeners[target[8:-1]])
    return sorted(found)


def _lsof_listening(pgid, run):
    returncode, output = run(['lsof', '-a', '-g', str(pgid), '-iTCP', '-sTCP:LISTEN',
                              '-P', '-n', '-Ftn'])
    if returncode not in (0, 1):  # 1: nothing matched; None: lsof did not start
        return None
    found = set()
    kind = 'IPv4'
    for line in output.splitlines():
        if line.startswith('t'):
            kind = line[1:]
        elif line.startswith('n') and ':' in line and '->' not in line:
            host, _, port = line[1:].rpartition(':')
            host = host.strip('[]')
            if host == '*':
                host = '::' if kind == 'IPv6' else '0.0.0.0'
            port = _to_int(port)
            if port:
                found.add((host, port))
    return sorted(found)


def _windows_listening(pid, tcp_table):
    import struct
    found = set()
    readable = False
    for family, row_size in ((socket.AF_INET, 24), (_WINDOWS_AF_INET6, 56)):
        raw = tcp_table(family)
        if raw is None:
            continue
        readable = True
        count = struct.unpack('=I', raw[:4])[0]
        for index in range(count):
            row = raw[4 + index * row_size:4 + (index + 1) * row_size]
            if len(row) < row_size:
                break
            if family == socket.AF_INET:
                state, = struct.unpack('=I', row[0:4])
                host = socket.inet_ntoa(row[4:8])
                port, = struct.unpack('!H', row[8:10])
                owner, = struct.unpack('=I', row[20:24])
            else:
                host = _format_ipv6(row[0:16])
                port, = struct.unpack('!H', row[20:22])
                state, owner = struct.unpack('=II', row[48:56])
            if state == _WINDOWS_TCP_STATE_LISTEN and owner == pid:
                found.add((host, port))
    return sorted(found) if readable else None


def _format_ipv6(packed):
    import binascii
    text = binascii.hexlify(packed).decode('ascii')
    groups = [text[i:i + 4].lstrip('0') or '0' for i in range(0, 32, 4)]
    full = ':'.join(groups)
    if full == '0:0:0:0:0:0:0:0':
        return '::'
    if full == '0:0:0:0:0:0:0:1':
        return '::1'
    return full


def _windows_tcp_table(family, iphlpapi=None):
    """The raw MIB_TCP(6)TABLE_OWNER_PID of listening sockets, or None."""
    import ctypes
    if iphlpapi is None:
        iphlpapi = ctypes.windll.iphlpapi  # pragma: no cover (windows)
    size = ctypes.c_ulong(0)
    for _ in range(5):  # the table can grow between the size query and the read
        buf = ctypes.create_string_buffer(max(size.value, 4))
        result = iphlpapi.GetExtendedTcpTable(buf, ctypes.pointer(size), False, family,
                                              _WINDOWS_TCP_TABLE_OWNER_PID_LISTENER, 0)
        if result == 0:
            return buf.raw[:size.value]
        if result != _WINDOWS_ERROR_INSUFFICIENT_BUFFER:
            return None
    return None


def signal_process_group(platform, process, hard, killpg=None):
    """Ask (SIGTERM) or, with *hard*, force (SIGKILL) *process* and its group to end.

    POSIX: ``killpg(process.pid, ...)``: the child leads its own process group
    (``start_new_session``), so its children get the signal too. Windows has no
    groups: ``process.terminate()``, which is already forceful. Returns False
    if nothing was left to signal (ESRCH, or EPERM: macOS' answer for a group
    of zombies), else True. *killpg* replaces ``os.killpg`` (tests pass a fake).
    """
    if not platform.process_groups:
        if process.poll() is not None:
            return False
        try:
            process.kill() if hard else process.terminate()
        except (OSError, IOError):  # exited meanwhile
            return False
        return True
    import signal
    killpg = killpg or os.killpg
    try:
        killpg(process.pid, signal.SIGKILL if hard else signal.SIGTERM)
    except (OSError, IOError) as exc:
        if exc.errno in (_errno.ESRCH, _errno.EPERM):
            return False
        raise
    return True
