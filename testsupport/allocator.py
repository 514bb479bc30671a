"""Port leases no other cooperating process is handed, with no daemon.

:func:`reserve_port` returns a port that is free to bind now and is *leased*:
no process using testsupport (this one, another test worker, a script running
``python -m testsupport port``) is handed it again until the lease ends,
that is until :func:`release_port`, until the lease time passes, or until the
owning process has gone. :func:`~testsupport.socket_helper.find_unused_port`
and everything built on it take their ports from here too.

How: ports come from a candidate range outside the OS ephemeral range, so the
kernel never gives them to outgoing connections or to ``bind(port 0)``. A
process claims a *block* of 32 consecutive ports at once by creating
``<registry>/<first port>.lease`` with ``O_CREAT | O_EXCL`` (the file holds its
pid, its start time and an expiry), then hands the block's ports out from
memory, each after checking that it can be bound for the requested family and
type. Blocks of dead processes, expired blocks and corrupt files are taken
over under a lock. A forked child starts with no blocks of its own.

Configuration, read from the environment on every call:

``TESTSUPPORT_PORT_RANGE``
    candidate ports, e.g. ``20000-29999``; ``kernel`` for kernel-assigned
    ports (still registered). Default: the largest range of ports from 1024
    up outside the ephemeral range (1024-32767 on Linux, 1024-49151 on macOS
    and Windows, 1024-9999 on FreeBSD); kernel-assigned ports if that has
    fewer than 256 ports.
``TESTSUPPORT_PORT_REGISTRY``
    the registry directory. Default: ``$XDG_RUNTIME_DIR/testsupport`` if that
    is private, else ``<tempdir>/testsupport-<uid>``; on Windows
    ``%LOCALAPPDATA%\\testsupport``. It is created 0700; one owned by another
    user or writable by others is not used (see below).
``TESTSUPPORT_PORT_LEASE``
    the lease time in seconds (default 60).
``TESTSUPPORT_PORT_STRATEGY``
    ``registry`` (the default) or ``ephemeral``: CPython's behaviour exactly
    (``find_unused_port`` binds port 0, closes and returns; no leases).

When the registry directory cannot be used (not ours, writable by others,
unwritable, full) the allocator warns once (:class:`PortRegistryWarning`) and
keeps its leases in memory: ports are then unique within the process only.

.. versionadded:: 0.1.0
"""
from __future__ import absolute_import, division, print_function

import atexit
import collections
import contextlib
import os
import random
import socket
import tempfile
import threading
import time
import warnings

from . import _compat, platform_shim, socket_helper

__all__ = [
    'BLOCK_SIZE',
    'DEFAULT_LEASE_SECONDS',
    'LEASE_ENV_VAR',
    'NoFreePortError',
    'PortRegistryWarning',
    'RANGE_ENV_VAR',
    'REGISTRY_ENV_VAR',
    'STRATEGY_ENV_VAR',
    'release_port',
    'reserve_port',
    'reserved_port',
]

RANGE_ENV_VAR = 'TESTSUPPORT_PORT_RANGE'
REGISTRY_ENV_VAR = 'TESTSUPPORT_PORT_REGISTRY'
LEASE_ENV_VAR = 'TESTSUPPORT_PORT_LEASE'
STRATEGY_ENV_VAR = 'TESTSUPPORT_PORT_STRATEGY'

#: Seconds a port stays leased unless released first (``TESTSUPPORT_PORT_LEASE``).
DEFAULT_LEASE_SECONDS = 60.0
#: Ports per registry entry; blocks are aligned (block ``n`` is ports ``32n .. 32n+31``)
#: so that processes with different ranges still agree on them.
BLOCK_SIZE = 32

#: Fewer candidate ports than this outside the ephemeral range: use kernel ports.
_MIN_RANGE_PORTS = 256
#: A kernel-assigned port is tried this many times before giving up.
_KERNEL_TRIES = 64
#: A corrupt registry file younger than this may be one being written: leave it.
_CORRUPT_GRACE_SECONDS = 10.0
_STRATEGIES = ('registry', 'ephemeral')
_LOCK_NAME = '.lock'
_SUFFIX = '.lease'


class NoFreePortError(socket.error):
    """No port could be leased: the candidate range is used up.

    A ``socket.error`` (``OSError`` on Python 3) with errno EADDRINUSE, as a
    failed ``bind()`` would raise; the message names the range and the remedy.
    """


class PortRegistryWarning(RuntimeWarning):
    """The cross-process registry cannot be used; leases are kept in memory.

    Issued once per process and problem. Ports are then unique within the
    process, not across processes.
    """


# -- configuration ---------------------------------------------------------

_Config = collections.namedtuple('_Config', 'port_range directory lease_seconds')


def _strategy(environ):
    value = environ.get(STRATEGY_ENV_VAR, '').strip().lower() or 'registry'
    if value not in _STRATEGIES:
        raise ValueError('%s is %r; use "registry" (the default: leased ports) or "ephemeral" '
                         '(CPython\'s behaviour: bind port 0, close, return)'
                         % (STRATEGY_ENV_VAR, environ.get(STRATEGY_ENV_VAR)))
    return value


def _parse_range(value):
    """``'20000-29999'`` -> ``(20000, 29999)``; ``'kernel'`` -> None; else ValueError."""
    text = value.strip().lower()
    if text == 'kernel':
        return None
    low, sep, high = text.partition('-')
    try:
        low, high = int(low), int(high)
    except ValueError:
        low = high = None
    if not sep or low is None or not (1 <= low <= high <= 65535):
        raise ValueError('%s is %r; expected LOW-HIGH with 1 <= LOW <= HIGH <= 65535, e.g. '
                         '20000-29999, or "kernel" for kernel-assigned ports'
                         % (RANGE_ENV_VAR, value))
    return low, high


def _default_range(ephemeral):
    """The largest range of ports >= 1024 outside *ephemeral*, or None if too small."""
    low, high = ephemeral
    below = (1024, min(low - 1, 65535))
    above = (max(high + 1, 1024), 65535)
    best = max([below, above], key=lambda r: r[1] - r[0])
    if best[1] - best[0] + 1 < _MIN_RANGE_PORTS:
        return None
    return best


def _parse_lease(value):
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ValueError('%s is %r; expected a number of seconds greater than 0, e.g. 60'
                         % (LEASE_ENV_VAR, value))
    return seconds


def _config(environ, platform):
    """The allocator configuration the environment *environ* asks for."""
    value = environ.get(RANGE_ENV_VAR, '').strip()
    ephemeral = platform.ephemeral_port_range()
    port_range = _parse_range(value) if value else _default_range(ephemeral)
    if value and port_range is not None:
        low, high = port_range
        if low <= ephemeral[1] and ephemeral[0] <= high:
            _warn_once(('ephemeral overlap', port_range, ephemeral),
                       '%s is %d-%d, which overlaps the OS ephemeral range %d-%d: the kernel '
                       'may give those ports to outgoing connections and to bind(port 0) '
                       'callers, which no registry keeps off; choose ports outside it'
                       % (RANGE_ENV_VAR, low, high, ephemeral[0], ephemeral[1]))
    directory = environ.get(REGISTRY_ENV_VAR, '').strip() or platform_shim.default_registry_dir(
        platform, environ, tempfile.gettempdir(), platform_shim.user_id())
    value = environ.get(LEASE_ENV_VAR, '').strip()
    lease = _parse_lease(value) if value else DEFAULT_LEASE_SECONDS
    return _Config(port_range, directory, lease)


def _describe(environ=None):
    """The allocator settings in force, as ``[(key, value)]`` for ``info``.

    A bad ``TESTSUPPORT_PORT_*`` variable is reported as the ValueError's text.
    """
    environ = os.environ if environ is None else environ
    try:
        strategy = _strategy(environ)
        config = _config(environ, platform_shim.current())
    except ValueError as exc:
        return [('port_config_error', str(exc))]
    port_range = config.port_range
    return [('port_strategy', strategy),
            ('port_range', 'kernel' if port_range is None else list(port_range)),
            ('port_registry', config.directory),
            ('port_lease_seconds', config.lease_seconds)]


# -- warnings ---------------------------------------------------------------

_warned = set()


def _warn_once(key, message):
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, PortRegistryWarning, stacklevel=4)


# -- registries: who holds which block ----------------------------------------

class _MemoryRegistry(object):
    """Blocks claimed by this process only: the fallback when no directory works."""

    persistent = False

    def __init__(self, clock):
        self._clock = clock
        self._owned = {}

    def claim(self, index, expiry):
        held = self._owned.get(index)
        if held is not None and held > self._clock():
            return None
        self._owned[index] = expiry
        return expiry

    def renew(self, index, token, expiry):
        if self._owned.get(index) != token:
            return None
        self._owned[index] = expiry
        return expiry

    def release(self, index, token):
        if self._owned.get(index) == token:
            del self._owned[index]


class _FileRegistry(object):
    """Blocks claimed through files in a private directory shared by the user's processes.

    ``<directory>/<first port>.lease`` holds ``pid start-marker expiry nonce kind``.
    Creating it (``O_EXCL``) needs no lock; replacing or removing one happens
    only under the exclusive lock on ``<directory>/.lock``, after re-reading it,
    so two processes can never both believe they took over the same block.
    """

    persistent = True

    def __init__(self, directory, platform, clock, pid, detached=False,
                 alive=None, start_marker=None, lock_module=None):
        self.directory = directory
        self._platform = platform
        self._clock = clock
        self._pid = pid
        self._kind = 'detached' if detached else 'process'
        self._alive = alive or (lambda pid, marker: platform_shim.process_alive(
            platform, pid, marker))
        if start_marker is None:
            start_marker = platform_shim.process_start_marker(platform, pid)
        self._marker = start_marker or '-'
        self._lock_module = lock_module
        self._open = os.open  # a seam: tests make it fail as a full disk would

    def _path(self, index):
        return os.path.join(self.directory, '%d%s' % (index * BLOCK_SIZE, _SUFFIX))

    def _content(self, expiry):
        return '%d %s %.3f %s %s\n' % (self._pid, self._marker, expiry,
                                       '%016x' % random.getrandbits(64), self._kind)

    def claim(self, index, expiry):
        """Claim block *index* until *expiry*; the token, or None if a live lease holds it."""
        content = self._content(expiry)
        path = self._path(index)
        try:
            self._create(path, content)
            return content
        except _compat.OS_ERRORS as exc:
            if not platform_shim.is_file_exists_error(exc):
                raise
        with self._locked():
            old, mtime = _read_lease(path)
            if old is not None and not self._is_stale(old, mtime):
                return None
            self._replace(path, content, exists=old is not None)
            return content

    def renew(self, index, token, expiry):
        """Extend our claim on block *index*; the new token, or None if it was lost."""
        path = self._path(index)
        with self._locked():
            if _read_lease(path)[0] != token:
                return None
            content = self._content(expiry)
            self._replace(path, content, exists=True)
            return content

    def release(self, index, token):
        """Remove our claim on block *index* (nothing if it is no longer ours)."""
        path = self._path(index)
        with self._locked():
            if _read_lease(path)[0] == token:
                platform_shim.remove_quietly(path)

    def _create(self, path, content):
        fd = self._open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, content.encode('ascii'))
        finally:
            os.close(fd)

    def _replace(self, path, content, exists):
        if not exists:
            self._create(path, content)
            return
        temp = '%s.%d.tmp' % (path, self._pid)
        platform_shim.remove_quietly(temp)
        self._create(temp, content)
        _compat.replace_file(temp, path)

    def _is_stale(self, content, mtime):
        fields = content.split()
        try:
            pid, marker, expiry, kind = int(fields[0]), fields[1], float(fields[2]), fields[4]
            valid = len(fields) == 5 and kind in ('process', 'detached')
        except (IndexError, ValueError):
            valid = False
        now = self._clock()
        if not valid:  # corrupt: stale once it is too old to be a file being written
            return mtime is None or now - mtime > _CORRUPT_GRACE_SECONDS
        if expiry <= now:
            return True
        if kind == 'process':
            return not self._alive(pid, None if marker == '-' else marker)
        return False

    @contextlib.contextmanager
    def _locked(self):
        fd = self._open(os.path.join(self.directory, _LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            platform_shim.lock_fd(self._platform, fd, self._lock_module)
            try:
                yield
            finally:
                platform_shim.unlock_fd(self._platform, fd, self._lock_module)
        finally:
            os.close(fd)


def _read_lease(path):
    """``(content, mtime)`` of a registry file; ``(None, None)`` if it is missing."""
    try:
        with open(path, 'rb') as fp:
            data = fp.read()
            mtime = os.fstat(fp.fileno()).st_mtime
    except _compat.OS_ERRORS as exc:
        if platform_shim.is_file_missing_error(exc):
            return None, None
        raise
    return data.decode('ascii', 'replace'), mtime


def _open_registry(directory, platform, clock, pid, detached):
    """A _FileRegistry on *directory*, made private; or a _MemoryRegistry and one warning."""
    uid = platform_shim.user_id()
    try:
        try:
            os.makedirs(directory, 0o700)
        except _compat.OS_ERRORS as exc:
            if not platform_shim.is_file_exists_error(exc):
                raise  # EEXIST: it exists (maybe just made by another process): check it
        problem = platform_shim.private_dir_problem(platform, directory, uid)
    except _compat.OS_ERRORS as exc:
        _warn_once(('unusable', directory),
                   'testsupport: cannot create the port registry %r (%s); leases are kept '
                   'in this process only, so other processes may be handed the same ports: '
                   'set %s to a writable directory' % (directory, exc, REGISTRY_ENV_VAR))
        return _MemoryRegistry(clock)
    if problem is not None:
        _warn_once(('unsafe', directory),
                   'testsupport: not using the port registry %r: it %s; leases are kept in '
                   'this process only, so other processes may be handed the same ports: '
                   'remove it or set %s to a directory only you can write'
                   % (directory, problem, REGISTRY_ENV_VAR))
        return _MemoryRegistry(clock)
    return _FileRegistry(directory, platform, clock, pid, detached)


# -- the allocator ----------------------------------------------------------

class _Block(object):
    __slots__ = ('index', 'registry', 'token', 'expiry')

    def __init__(self, index, registry, token, expiry):
        self.index = index
        self.registry = registry
        self.token = token
        self.expiry = expiry


class _Lease(object):
    __slots__ = ('port', 'expiry', 'reserved')

    def __init__(self, port, expiry, reserved):
        self.port = port
        self.expiry = expiry
        self.reserved = reserved


class _Allocator(object):
    """One process's leases: the blocks it holds and the ports leased from them.

    *port_range* is ``(low, high)`` or None for kernel-assigned ports;
    *registry* is a _FileRegistry or _MemoryRegistry; *clock* returns wall-clock
    seconds (tests pass a fake one); *detached* leases survive the process
    (the ``port`` command) and end only by expiry.
    """

    def __init__(self, port_range, lease_seconds, registry, platform, clock=time.time,
                 detached=False, pid=None):
        self.port_range = port_range
        self.lease_seconds = lease_seconds
        self.registry = registry
        self.platform = platform
        self.clock = clock
        self.detached = detached
        self.pid = os.getpid() if pid is None else pid
        self._blocks = {}
        self._free = collections.deque()
        self._leases = {}
        self._expiries = collections.deque()
        self._mutex = threading.Lock()
        if port_range is not None:
            low, high = port_range
            self._first_block, self._last_block = low // BLOCK_SIZE, high // BLOCK_SIZE

    # -- public operations -------------------------------------------------
    def allocate(self, family, socktype, host, reserved, caller):
        """Lease a port bindable for *family*/*socktype* on *host*; return it."""
        with self._mutex:
            return self._allocate(family, socktype, host, reserved, caller)

    def _allocate(self, family, socktype, host, reserved, caller):
        host = socket_helper._loopback(family, host)
        now = self.clock()
        self._reap(now)
        expiry = now + self.lease_seconds
        if self.port_range is None:
            return self._allocate_kernel(family, socktype, host, reserved, caller, expiry)
        last_error = None
        budget = len(self._free)
        candidates = None
        while True:
            while budget > 0:
                budget -= 1
                port = self._free.popleft()
                block = self._blocks.get(port // BLOCK_SIZE)
                if block is None or port in self._leases:
                    continue  # its block was lost, or a duplicate entry of a leased port
                error = _bind_error(family, socktype, host, port, self.platform, caller)
                if error is not None:
                    last_error = error
                    self._free.append(port)  # bound by a non-cooperating process
                    continue
                if block.expiry < expiry and not self._renew(block, expiry):
                    continue
                return self._lease(port, expiry, reserved)
            if candidates is None:
                candidates = self._candidate_blocks()
            block = self._claim_next(candidates, expiry)
            if block is None:
                raise self._exhausted(caller, last_error)
            ports = self._ports_of(block.index)
            self._free.extendleft(reversed(ports))
            budget = len(ports)

    def release(self, port, caller):
        with self._mutex:
            self._release(port, caller)

    def _release(self, port, caller):
        lease = self._leases.pop(port, None)
        if lease is not None:
            self._free.append(port)
            return
        if port // BLOCK_SIZE not in self._blocks:
            raise ValueError('%s(): port %r is not leased by this process (pid %d); pass a '
                             'port that reserve_port() returned' % (caller, port, self.pid))

    def unreleased(self):
        """Ports reserved with reserve_port() whose lease is still running, sorted."""
        now = self.clock()
        return sorted(p for p, lease in self._leases.items()
                      if lease.reserved and lease.expiry > now)

    def close(self, keep_detached=True):
        """Give up every block (at exit; detached leases stay until they expire).

        ``keep_detached=False`` gives up a detached allocator's blocks too (a
        ``port`` command that failed half-way hands back what it took).
        """
        blocks, self._blocks = self._blocks, {}
        self._free.clear()
        self._leases.clear()
        if self.detached and keep_detached:
            return
        for block in blocks.values():
            try:
                block.registry.release(block.index, block.token)
            except _compat.OS_ERRORS:
                pass  # at exit: the block expires or its owner is seen dead

    # -- internals -----------------------------------------------------------
    def _lease(self, port, expiry, reserved):
        lease = _Lease(port, expiry, reserved)
        self._leases[port] = lease
        self._expiries.append(lease)
        return port

    def _reap(self, now):
        """End the leases that have expired: their ports go back to the pool."""
        expiries = self._expiries
        while expiries and expiries[0].expiry <= now:
            lease = expiries.popleft()
            if self._leases.get(lease.port) is lease:
                del self._leases[lease.port]
                self._free.append(lease.port)
        # Leases released early leave their entry here; drop them in passing.
        while expiries and self._leases.get(expiries[0].port) is not expiries[0]:
            expiries.popleft()

    def _ports_of(self, index):
        low, high = self.port_range
        return [p for p in range(index * BLOCK_SIZE, (index + 1) * BLOCK_SIZE)
                if low <= p <= high and p not in self._leases]

    def _candidate_blocks(self):
        """Every block of the range once, from a random start (no scan from the front)."""
        first, last = self._first_block, self._last_block
        count = last - first + 1
        start = random.randrange(count)
        for offset in range(count):
            index = first + (start + offset) % count
            if index not in self._blocks:
                yield index

    def _block_expiry(self, expiry):
        # A process's block outlives its leases by one lease time, so that it is
        # renewed about once per lease time; a detached one ends with them.
        return expiry if self.detached else expiry + self.lease_seconds

    def _claim_next(self, candidates, expiry):
        for index in candidates:
            block = self._claim(index, expiry)
            if block is not None:
                return block
        return None

    def _claim(self, index, expiry):
        block_expiry = self._block_expiry(expiry)
        try:
            token = self.registry.claim(index, block_expiry)
        except _compat.OS_ERRORS as exc:
            self._fall_back(exc)
            token = self.registry.claim(index, block_expiry)
        if token is None:
            return None
        block = self._blocks[index] = _Block(index, self.registry, token, block_expiry)
        return block

    def _renew(self, block, expiry):
        block_expiry = self._block_expiry(expiry)
        try:
            token = block.registry.renew(block.index, block.token, block_expiry)
        except _compat.OS_ERRORS as exc:
            self._fall_back(exc)
            token = None
        if token is None:  # taken over after it expired: drop it
            del self._blocks[block.index]
            return False
        block.token, block.expiry = token, block_expiry
        return True

    def _fall_back(self, exc):
        directory = getattr(self.registry, 'directory', None)
        _warn_once(('unwritable', directory),
                   'testsupport: cannot write to the port registry %r (%s); leases are kept '
                   'in this process only, so other processes may be handed the same ports: '
                   'free some space or set %s to a writable directory'
                   % (directory, exc, REGISTRY_ENV_VAR))
        if self.registry.persistent:
            self.registry = _MemoryRegistry(self.clock)

    def _allocate_kernel(self, family, socktype, host, reserved, caller, expiry):
        """Kernel-assigned ports, registered by the block that contains them.

        Linux' bind(port 0) often returns the same port again once it is closed,
        so a port we cannot use stays bound until the search ends, and the
        kernel has to pick another.
        """
        rejected = []
        try:
            for _attempt in range(_KERNEL_TRIES):
                sock = socket.socket(family, socktype)
                rejected.append(sock)
                port = socket_helper._bind_port(sock, host, self.platform)
                if port in self._leases:
                    continue
                index = port // BLOCK_SIZE
                block = self._blocks.get(index)
                if block is None:
                    block = self._claim(index, expiry)
                    if block is None:
                        continue
                elif block.expiry < expiry and not self._renew(block, expiry):
                    continue
                return self._lease(port, expiry, reserved)
        finally:
            for sock in rejected:
                sock.close()
        raise NoFreePortError(
            self.platform.errnos['EADDRINUSE'],
            '%s(): %d kernel-assigned ports in a row were leased to other processes; '
            'release ports with release_port(), run fewer workers, or set %s to a range '
            'outside the ephemeral ports' % (caller, _KERNEL_TRIES, RANGE_ENV_VAR))

    def _exhausted(self, caller, last_error):
        low, high = self.port_range
        mine = sum(len(self._ports_of_all(index)) for index in self._blocks)
        if self._blocks:
            own = ('%d of them by this one, whose %d ports are all leased or in use'
                   % (len(self._blocks), mine))
        else:
            own = 'none by this one'
        return NoFreePortError(
            self.platform.errnos['EADDRINUSE'],
            '%s(): no free port in %d-%d: every block of %d ports in it is held by a live '
            'process, %s (last bind error: %s); widen %s, release ports with release_port(), '
            'or run fewer workers' % (caller, low, high, BLOCK_SIZE, own,
                                      last_error or 'none', RANGE_ENV_VAR))

    def _ports_of_all(self, index):
        low, high = self.port_range
        return [p for p in range(index * BLOCK_SIZE, (index + 1) * BLOCK_SIZE)
                if low <= p <= high]


def _bind_error(family, socktype, host, port, platform, caller):
    """None if *port* can be bound on *host* now; the error if it is taken or reserved.

    Other errors propagate: an unresolvable *host* as ``socket_helper``'s
    explained ``gaierror`` naming *caller*.
    """
    sock = socket.socket(family, socktype)
    try:
        platform.make_exclusive(sock)
        socket_helper._bind(sock, host, port, caller, platform)
    except _compat.OS_ERRORS as exc:
        if platform.is_address_taken(exc):
            return exc
        raise
    finally:
        sock.close()
    return None


def _kernel_port(family, socktype, host, platform):
    """A port the kernel assigns: bind port 0 with socket_helper._bind_port, close."""
    sock = socket.socket(family, socktype)
    with contextlib.closing(sock):
        return socket_helper._bind_port(sock, host, platform)


# -- this process's allocator -------------------------------------------------

_state = {}


def _current(environ=None, detached=False):
    """The allocator for this process and configuration (a fresh one after fork)."""
    environ = os.environ if environ is None else environ
    key = (os.getpid(), environ.get(RANGE_ENV_VAR), environ.get(REGISTRY_ENV_VAR),
           environ.get(LEASE_ENV_VAR), detached)
    allocator = _state.get(key)
    if allocator is None:
        platform = platform_shim.current()
        config = _config(environ, platform)
        registry = _open_registry(config.directory, platform, time.time, key[0], detached)
        allocator = _Allocator(config.port_range, config.lease_seconds, registry, platform,
                               detached=detached)
        if not _state:
            atexit.register(_release_at_exit)
        for stale in [k for k in _state if k[0] != key[0]]:
            del _state[stale]  # a parent's allocators, inherited through fork
        _state[key] = allocator
    return allocator


def _release_at_exit(state=None):
    """At exit, list forgotten reserve_port() leases and give up this process's blocks."""
    pid = os.getpid()
    forgotten = []
    for key, allocator in list((_state if state is None else state).items()):
        if key[0] != pid or allocator.pid != pid:
            continue  # inherited through fork: the parent's to release
        if not allocator.detached:
            forgotten.extend(allocator.unreleased())
        allocator.close()
    if forgotten:
        warnings.warn('testsupport: %d port(s) reserved with reserve_port() were never '
                      'released: %s; call release_port() or use reserved_port()'
                      % (len(forgotten), ', '.join(str(p) for p in sorted(forgotten))),
                      PortRegistryWarning)


# -- public API ---------------------------------------------------------------

def reserve_port(family=socket.AF_INET, socktype=socket.SOCK_STREAM, host=None):
    """Return a port free for *family*/*socktype* on *host*, leased to this process.

    *host* defaults to ``HOST`` (``HOSTv6`` for AF_INET6). Until
    :func:`release_port`, the lease time (``TESTSUPPORT_PORT_LEASE``, default
    60 s) or the end of this process, no process using testsupport is handed
    the port. Processes that do not use testsupport are kept off it only by
    the choice of range (outside the ephemeral ports): bind it soon.

    Raises ValueError for a family or type without ports or a bad
    ``TESTSUPPORT_PORT_*`` variable, :class:`NoFreePortError` when the range is
    used up, and the socket error when no socket of that family can be bound
    on *host* (e.g. AF_INET6 where IPv6 is off). With
    ``TESTSUPPORT_PORT_STRATEGY=ephemeral`` the port is the kernel's and not
    leased.
    """
    return _reserve_port(family, socktype, host, 'reserve_port', platform_shim.current(),
                         reserved=True)


def _reserve_port(family, socktype, host, caller, platform, reserved, environ=None):
    environ = os.environ if environ is None else environ
    socket_helper._check_port_family(caller, family, platform, socktype)
    if _strategy(environ) == 'ephemeral':
        return _kernel_port(family, socktype, socket_helper._loopback(family, host), platform)
    return _current(environ).allocate(family, socktype, host, reserved, caller)


def release_port(port):
    """End the lease on *port* now, so the port can be handed out again.

    Releasing a port whose lease has already ended is fine. Raises ValueError
    for a port this process never leased. A no-op under
    ``TESTSUPPORT_PORT_STRATEGY=ephemeral``.
    """
    if isinstance(port, bool) or not isinstance(port, _compat.integer_types):
        raise TypeError('release_port(): port must be an int that reserve_port() returned, '
                        'got %s %r' % (type(port).__name__, port))
    if _strategy(os.environ) == 'ephemeral':
        return
    _current().release(port, 'release_port')


@contextlib.contextmanager
def reserved_port(family=socket.AF_INET, socktype=socket.SOCK_STREAM, host=None):
    """Context manager: :func:`reserve_port` on entry, :func:`release_port` on exit."""
    port = _reserve_port(family, socktype, host, 'reserved_port', platform_shim.current(),
                         reserved=True)
    try:
        yield port
    finally:
        release_port(port)


def _find_unused_port(family, socktype, platform):
    """``socket_helper.find_unused_port``: a leased port, or CPython's way if asked for."""
    socket_helper._check_port_family('find_unused_port', family, platform, socktype)
    if _strategy(os.environ) == 'ephemeral':
        return _kernel_port(family, socktype, socket_helper.HOST, platform)  # CPython's way
    return _current().allocate(family, socktype, None, False, 'find_unused_port')


def _detached_ports(count, family, socktype, environ=None):
    """*count* ports leased for the lease time beyond this process (the ``port`` command)."""
    environ = os.environ if environ is None else environ
    platform = platform_shim.current()
    socket_helper._check_port_family('port', family, platform, socktype)
    if _strategy(environ) == 'ephemeral':
        return [_kernel_port(family, socktype, socket_helper.HOST, platform)
                for _ in range(count)]
    allocator = _current(environ, detached=True)
    ports = []
    try:
        for _ in range(count):
            ports.append(allocator.allocate(family, socktype, None, False, 'port'))
    except BaseException:
        # All or nothing: a script gets every port it asked for, or none stays leased.
        for key in [k for k, v in _state.items() if v is allocator]:
            del _state[key]
        allocator.close(keep_detached=False)
        raise
    return ports
