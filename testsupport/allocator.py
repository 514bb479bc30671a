"""Port leases no other cooperating process is handed, with no daemon.

:func:`reserve_port` returns a port that is free to bind now and is *leased*:
no process using testsupport (this one, another test worker, another user's
suite, a script running ``testsupport port``) is handed it again until the
lease ends, that is until :func:`release_port`, until the lease time passes,
or until the owning process has gone.
:func:`~testsupport.socket_helper.find_unused_port` and everything built on it
take their ports from here too.

How: ports come from a candidate range outside the OS ephemeral range, so the
kernel never gives them to outgoing connections or to ``bind(port 0)``. A
process claims a *block* of 32 aligned ports at once in a lease store
(:mod:`testsupport._leases`: on Linux a kernel-held name per block, elsewhere a
file per block in a private per-user directory), then hands the block's ports
out from memory, each after checking that it can be bound for the requested
family and type. A block goes back to the store once none of its ports has
been leased for a second. Small ranges, kernel-assigned ports and the
``port`` command lease single ports instead.

This module is the policy: which port, recycling, and what to do under
pressure. :func:`find_unused_port` never fails where a bare ``bind(port 0)``
would work: when the range is used up (or this process may hold no more
descriptors) it reuses its own leases that are older than a second and bound
by nobody, then takes kernel-assigned ports, with one
:class:`PortRegistryWarning`. :func:`reserve_port` raises
:class:`NoFreePortError` when the range is truly full.

Configuration, read from the environment on every call:

``TESTSUPPORT_PORT_RANGE``
    candidate ports, e.g. ``20000-29999``; ``kernel`` for kernel-assigned
    ports (still leased). Default: the largest range of ports from 1024 up
    outside the ephemeral range (1024-32767 on Linux, 1024-49151 on macOS and
    Windows, 1024-9999 on FreeBSD); kernel-assigned ports if that has fewer
    than 256 ports.
``TESTSUPPORT_PORT_REGISTRY``
    a private registry: the directory of the file store, and for the kernel
    store a namespace of its own, so that a test run's leases stay apart
    from everyone else's. Default: the shared kernel namespace (Linux), or
    ``$XDG_RUNTIME_DIR/testsupport`` if private, else
    ``<tempdir>/testsupport-<uid>``, else (when that belongs to someone else)
    ``~/.cache/testsupport/ports-<host>``; on Windows ``%LOCALAPPDATA%\\testsupport``.
``TESTSUPPORT_PORT_BACKEND``
    ``kernel``, ``files`` or ``memory``; default: the platform's
    (``platform_shim.current().lease_store``).
``TESTSUPPORT_PORT_LEASE``
    the lease time in seconds (default 60, at most 86400).
``TESTSUPPORT_PORT_STRATEGY``
    ``registry`` (the default) or ``ephemeral``: CPython's behaviour exactly
    (``find_unused_port`` binds port 0, closes and returns; no leases).

.. versionadded:: 0.1.0
"""
from __future__ import absolute_import, division, print_function

import atexit
import collections
import contextlib
import math
import os
import socket
import threading
import time
import warnings

from . import _compat, _holder, _leases, _sockets, platform_shim

__all__ = [
    'BACKEND_ENV_VAR',
    'BLOCK_SIZE',
    'DEFAULT_LEASE_SECONDS',
    'LEASE_ENV_VAR',
    'MAX_LEASE_SECONDS',
    'NoFreePortError',
    'PortRegistryWarning',
    'RANGE_ENV_VAR',
    'REGISTRY_ENV_VAR',
    'STRATEGY_ENV_VAR',
    'describe',
    'lease_detached_ports',
    'lease_port',
    'parse_lease',
    'release_detached_ports',
    'release_port',
    'reserve_port',
    'reserved_port',
]

RANGE_ENV_VAR = 'TESTSUPPORT_PORT_RANGE'
REGISTRY_ENV_VAR = 'TESTSUPPORT_PORT_REGISTRY'
LEASE_ENV_VAR = 'TESTSUPPORT_PORT_LEASE'
STRATEGY_ENV_VAR = 'TESTSUPPORT_PORT_STRATEGY'
BACKEND_ENV_VAR = _leases.BACKEND_ENV_VAR

#: Seconds a port stays leased unless released first (``TESTSUPPORT_PORT_LEASE``).
DEFAULT_LEASE_SECONDS = 60.0
#: The longest lease time accepted: a day.
MAX_LEASE_SECONDS = 86400.0
#: Ports per block; blocks are aligned (block ``n`` is ports ``32n .. 32n+31``)
#: so that processes with different ranges still agree on them.
BLOCK_SIZE = 32

#: Fewer candidate ports than this outside the ephemeral range: use kernel ports.
_MIN_RANGE_PORTS = 256
#: A range with fewer ports than this is leased port by port, not by blocks.
_MIN_BLOCK_RANGE = 4 * BLOCK_SIZE
#: Stores whose names cost no descriptor: as many blocks as the range has.
_UNBOUNDED_UNITS = 1 << 20
#: A kernel-assigned port is tried this many times before giving up.
_KERNEL_TRIES = 64
#: A block none of whose ports is leased goes back after this many seconds.
_IDLE_BLOCK_SECONDS = 1.0
#: Under pressure, find_unused_port() reuses its own leases at least this old.
_MIN_REUSE_SECONDS = 1.0
#: How many of its own leases find_unused_port() tries before kernel ports.
_REUSE_TRIES = 64
#: After finding every block of the range held, find_unused_port() looks again
#: this many seconds later at the earliest (a look tries every block's name:
#: about 5 ms for 1,000 blocks held by others), reusing its own leases meanwhile.
_RESCAN_SECONDS = 1.0
_STRATEGIES = ('registry', 'ephemeral')


class NoFreePortError(socket.error):
    """No port could be leased: the candidate range is used up.

    A ``socket.error`` (``OSError`` on Python 3) with errno EADDRINUSE, as a
    failed ``bind()`` would raise; the message names the range and the remedy.
    Only :func:`reserve_port` and :func:`reserved_port` raise it.
    """


#: Leases are weaker than usual here (a store fell back, or ports are reused).
PortRegistryWarning = _leases.PortRegistryWarning


# -- configuration ---------------------------------------------------------

_Config = collections.namedtuple('_Config', 'port_range directory private lease_seconds')


def _strategy(environ):
    return _parse_strategy(environ.get(STRATEGY_ENV_VAR))


def _parse_strategy(raw):
    if raw is None:
        return 'registry'
    value = raw.strip().lower() or 'registry'
    if value not in _STRATEGIES:
        raise ValueError('%s is %r; use "registry" (the default: leased ports) or "ephemeral" '
                         '(CPython\'s behaviour: bind port 0, close, return)'
                         % (STRATEGY_ENV_VAR, raw))
    return value


#: The variables read at every call, in the order _settings() returns them.
_SETTING_NAMES = (STRATEGY_ENV_VAR, RANGE_ENV_VAR, REGISTRY_ENV_VAR, LEASE_ENV_VAR,
                  BACKEND_ENV_VAR)
_encoded_names = {}  # an os.environ's encodekey -> _SETTING_NAMES as keys of its own dict


def _settings(environ):
    """The values of the TESTSUPPORT_PORT_* variables in *environ*, None where unset.

    They are read at every call, so this must be cheap: ``os.environ.get()`` of
    an unset variable raises and catches KeyError twice inside, and the five
    such reads cost about 2.5 us, more than the rest of find_unused_port()
    besides its bind check. So the dict behind ``os.environ`` (``_data`` on
    Python 3 and PyPy 3) is read directly, through the same ``encodekey`` and
    ``decodevalue`` that ``os.environ[name]`` uses; any other mapping (2.7's
    ``os.environ``, a plain dict) through ``get()``.
    """
    data = getattr(environ, '_data', None)
    if type(data) is dict:
        encodekey, decode = environ.encodekey, environ.decodevalue
        keys = _encoded_names.get(encodekey)
        if keys is None:
            keys = _encoded_names[encodekey] = tuple([encodekey(n) for n in _SETTING_NAMES])
        return tuple([raw if raw is None else decode(raw) for raw in map(data.get, keys)])
    get = environ.get
    return tuple([get(name) for name in _SETTING_NAMES])


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


def parse_lease(value, what=LEASE_ENV_VAR):
    """Seconds in (0, MAX_LEASE_SECONDS]; ValueError naming *what* otherwise."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = float('nan')
    if math.isnan(seconds) or not 0 < seconds <= MAX_LEASE_SECONDS:
        raise ValueError('%s is %r; expected a number of seconds greater than 0 and at most '
                         '%d (a day), e.g. 60' % (what, value, MAX_LEASE_SECONDS))
    return seconds


def _config(environ, platform):
    """The allocator configuration the environment *environ* asks for."""
    value = environ.get(RANGE_ENV_VAR, '').strip()
    ephemeral = platform.ephemeral_port_range()
    port_range = _parse_range(value) if value else _default_range(ephemeral)
    if value and port_range is not None:
        low, high = port_range
        if low <= ephemeral[1] and ephemeral[0] <= high:
            _leases.warn_once(
                ('ephemeral overlap', port_range, ephemeral),
                '%s is %d-%d, which overlaps the OS ephemeral range %d-%d: the kernel may '
                'give those ports to outgoing connections and to bind(port 0) callers, which '
                'no lease keeps off; choose ports outside it'
                % (RANGE_ENV_VAR, low, high, ephemeral[0], ephemeral[1]), PortRegistryWarning)
    directory = environ.get(REGISTRY_ENV_VAR, '').strip()
    private = bool(directory)
    if not private:
        import tempfile
        directory = platform_shim.default_registry_dir(
            platform, environ, tempfile.gettempdir(), platform_shim.user_id())
    value = environ.get(LEASE_ENV_VAR, '').strip()
    lease = parse_lease(value) if value else DEFAULT_LEASE_SECONDS
    return _Config(port_range, directory, private, lease)


def describe(environ=None):
    """The allocator settings in force, as ``[(key, value)]`` for ``info``.

    A bad ``TESTSUPPORT_PORT_*`` variable is reported as the ValueError's text,
    and so is a warning about the settings when warnings are errors (``-W error``).
    """
    environ = os.environ if environ is None else environ
    try:
        strategy = _strategy(environ)
        allocator = _current(environ)
    except (ValueError, Warning) as exc:
        return [('port_config_error', str(exc))]
    port_range = allocator.port_range
    return [('port_strategy', strategy),
            ('port_range', 'kernel' if port_range is None else list(port_range)),
            ('port_store', allocator.store.describe()),
            ('port_unit', allocator.unit),
            ('port_lease_seconds', allocator.lease_seconds)]


def _warn_once(key, message):
    _leases.warn_once(key, message, PortRegistryWarning, stacklevel=5)


# -- the allocator ------------------------------------------------------------

class _Lease(object):
    __slots__ = ('port', 'expiry', 'reserved', 'started', 'handle')

    def __init__(self, port, expiry, reserved, started, handle=None):
        self.port = port
        self.expiry = expiry
        self.reserved = reserved
        self.started = started
        self.handle = handle  # a single-port lease's store handle; None inside a block


class _Allocator(object):
    """One process's leases: the blocks it holds and the ports leased from them.

    *port_range* is ``(low, high)`` or None for kernel-assigned ports; *store*
    is one of :mod:`testsupport._leases`' stores; *clock* returns wall-clock
    seconds (tests pass a fake one); *max_units* bounds the blocks and single
    ports held at once (each may cost a file descriptor).
    """

    def __init__(self, port_range, lease_seconds, store, platform, clock=time.time,
                 pid=None, max_units=None):
        self.port_range = port_range
        self.lease_seconds = lease_seconds
        self.store = store
        self.platform = platform
        self.clock = clock
        self.pid = os.getpid() if pid is None else pid
        # Only kernel names cost a descriptor each; the other stores hold no limit.
        self.max_units = max_units or (_max_units(platform) if store.names_cost_descriptors
                                       else _UNBOUNDED_UNITS)
        size = 0 if port_range is None else port_range[1] - port_range[0] + 1
        self.unit = ('kernel' if port_range is None else
                     'block' if size >= _MIN_BLOCK_RANGE else 'port')
        self._blocks = {}       # block index -> store handle
        self._live = {}         # block index -> leases running in it
        self._idle = {}         # block index -> when its last lease ended
        self._free = collections.deque()
        self._leases = {}       # port -> _Lease
        self._singles = 0       # leases in self._leases that hold a name of their own
        self._expiries = collections.deque()
        self._quarantine = set()  # reserve_port() leases that expired unreleased
        self._known = set()     # every port this allocator ever leased
        self._singles = 0       # leases holding a name of their own (single ports)
        self._mutex = threading.Lock()
        self._rescan_at = 0.0   # find_unused_port() looks for a free block from then on
        if port_range is not None:
            low, high = port_range
            self._first_block, self._last_block = low // BLOCK_SIZE, high // BLOCK_SIZE

    # -- public operations -------------------------------------------------
    def allocate(self, family, socktype, host, reserved, caller, never_fail=False):
        """Lease a port bindable for *family*/*socktype* on *host*; return it."""
        with self._mutex:
            host = _sockets.loopback(family, host)
            now = self.clock()
            self._reap(now)
            self._return_idle_blocks(now)
            expiry = now + self.lease_seconds
            want = (family, socktype, host, caller, reserved, now, expiry)
            if self.unit == 'block':
                port = self._from_blocks(*want, rescan=not never_fail or now >= self._rescan_at)
            elif self.unit == 'port':
                port = self._single(self._range_candidates(), *want)
            else:
                port = self._from_kernel(*want)
            if port is not None:
                return port
            if never_fail:
                return self._under_pressure(*want)
            raise self._exhausted(caller)

    def release(self, port):
        """End the lease on *port*; True if this allocator knew the port."""
        with self._mutex:
            lease = self._leases.pop(port, None)
            if lease is not None:
                self._end(lease, self.clock())
                return True
            if port in self._quarantine:
                self._quarantine.discard(port)
                if port // BLOCK_SIZE in self._blocks:
                    self._free.append(port)
                return True
            return port in self._known

    def unreleased(self):
        """Ports reserved with reserve_port() and not released (running or expired), sorted."""
        now = self.clock()
        running = [p for p, lease in self._leases.items() if lease.reserved and lease.expiry > now]
        return sorted(set(running) | self._quarantine)

    def held_units(self):
        """How many blocks and single ports this allocator holds in its store."""
        return len(self._blocks) + self._singles

    def close(self):
        """Give every block and single port back (at exit, or when the config changed)."""
        with self._mutex:
            blocks, self._blocks = self._blocks, {}
            leases, self._leases = self._leases, {}
            self._singles = 0
            self._free.clear()
            self._expiries.clear()
            self._live.clear()
            self._idle.clear()
            self._singles = 0
            handles = list(blocks.values()) + [l.handle for l in leases.values() if l.handle]
            for handle in handles:
                try:
                    self.store.release(handle)
                except _compat.OS_ERRORS:
                    pass  # at exit: the entry expires or its owner is seen dead

    def forget_after_fork(self):
        """In a forked child: drop (close) the parent's handles without releasing them."""
        handles = list(self._blocks.values()) + [l.handle for l in self._leases.values()
                                                 if l.handle]
        for handle in handles:
            self.store.forget(handle)  # the child's copy only: the parent still holds the name

    # -- blocks ------------------------------------------------------------
    def _from_blocks(self, family, socktype, host, caller, reserved, now, expiry, rescan=True):
        """A port of a block we hold, claiming another block if needed (and *rescan*)."""
        budget = len(self._free)
        candidates = None
        while True:
            while budget > 0:
                budget -= 1
                port = self._free.popleft()
                index = port // BLOCK_SIZE
                if index not in self._blocks or port in self._leases or port in self._quarantine:
                    continue  # its block went back, or a duplicate entry
                try:
                    error = _sockets.bind_error(family, socktype, host, port, self.platform,
                                                caller)
                except BaseException:
                    self._free.appendleft(port)  # a failed check costs nothing
                    raise
                if error is not None:
                    self._free.append(port)  # bound by a process that does not lease
                    continue
                handle = self._blocks[index]
                # Renewed only when this lease would outlive the block, then by
                # a whole lease time more: a file store rewrites the block's
                # entry about once per lease time, not at every lease.
                if expiry > handle.expiry and not self.store.renew(
                        handle, self._block_expiry(expiry)):
                    self._drop_block(index)  # taken over after it expired
                    continue
                return self._lease(port, reserved, now, expiry)
            if self.held_units() >= self.max_units:
                return None
            if candidates is None:
                if not rescan:
                    return None
                candidates = self._candidate_blocks()
            ports = self._claim_next(candidates, expiry)
            if ports is None:
                self._rescan_at = now + _RESCAN_SECONDS
                return None
            self._free.extendleft(reversed(ports))
            budget = len(ports)

    def _candidate_blocks(self):
        """Every block of the range once, from a random start (no scan from the front)."""
        first, last = self._first_block, self._last_block
        count = last - first + 1
        import random
        start = random.randrange(count)
        for offset in range(count):
            index = first + (start + offset) % count
            if index not in self._blocks:
                yield index

    def _claim_next(self, candidates, expiry):
        """Claim the next free block; its ports not leased singly elsewhere, or None."""
        low, high = self.port_range
        for index in candidates:
            try:
                handle = self.store.acquire('b%d' % index, self._block_expiry(expiry))
            except _compat.OS_ERRORS as exc:
                self._store_failed(exc)
                return None
            if handle is None:
                continue
            self._blocks[index] = handle
            self._live[index] = 0
            self._idle[index] = self.clock()
            return [p for p in range(index * BLOCK_SIZE, (index + 1) * BLOCK_SIZE)
                    if low <= p <= high and p not in self._leases
                    and not self.store.held('p%d' % p)]
        return None

    def _block_expiry(self, expiry):
        # A block outlives its leases by one lease time, so that a file entry
        # is rewritten about once per lease time, not at every lease.
        return expiry + self.lease_seconds

    def _drop_block(self, index):
        handle = self._blocks.pop(index, None)
        self._live.pop(index, None)
        self._idle.pop(index, None)
        if handle is not None:
            try:
                self.store.release(handle)
            except _compat.OS_ERRORS:
                pass

    def _return_idle_blocks(self, now):
        if not self._idle:
            return
        for index, since in list(self._idle.items()):
            if now - since >= _IDLE_BLOCK_SECONDS:
                self._drop_block(index)

    # -- single ports --------------------------------------------------------
    def _range_candidates(self):
        low, high = self.port_range
        ports = list(range(low, high + 1))
        import random
        random.shuffle(ports)
        return ports

    def _single(self, candidates, family, socktype, host, caller, reserved, now, expiry):
        """Lease the first of *candidates* whose single-port name and bind check succeed."""
        for port in candidates:
            if port in self._leases or port in self._quarantine:
                continue
            if self.held_units() >= self.max_units:
                return None
            handle = self._acquire_single(port, expiry)
            if handle is None:
                continue
            try:
                error = _sockets.bind_error(family, socktype, host, port, self.platform, caller)
            except BaseException:
                self.store.release(handle)  # a failed check costs nothing
                raise
            if error is not None:
                self.store.release(handle)
                continue
            return self._lease(port, reserved, now, expiry, handle)
        return None

    def _acquire_single(self, port, expiry, detached=False):
        """Hold the name of *port* alone; None if it or its block is held elsewhere."""
        try:
            handle = self.store.acquire('p%d' % port, expiry, detached)
        except _compat.OS_ERRORS as exc:
            self._store_failed(exc)
            return None
        if handle is None:
            return None
        index = port // BLOCK_SIZE
        if index not in self._blocks and self.store.held('b%d' % index):
            self.store.release(handle)  # a block holder (maybe) hands it out
            return None
        return handle

    def _from_kernel(self, family, socktype, host, caller, reserved, now, expiry):
        """Kernel-assigned ports, each leased alone.

        Linux' bind(port 0) often returns the same port again once it is
        closed, so a port we cannot use stays bound until the search ends.
        """
        rejected = []
        try:
            for _attempt in range(_KERNEL_TRIES):
                sock = socket.socket(family, socktype)
                rejected.append(sock)
                port = _sockets.bind_port(sock, host, caller, self.platform)
                if port in self._leases or port in self._quarantine:
                    continue
                if self.held_units() >= self.max_units:
                    return None
                handle = self._acquire_single(port, expiry)
                if handle is not None:
                    return self._lease(port, reserved, now, expiry, handle)
        finally:
            for sock in rejected:
                sock.close()
        return None

    # -- pressure ------------------------------------------------------------------
    def _under_pressure(self, family, socktype, host, caller, reserved, now, expiry):
        """find_unused_port() never fails where bind(port 0) works: reuse, then kernel ports."""
        port = self._reuse_own(family, socktype, host, caller, now, expiry)
        if port is not None:
            return port
        _warn_once(('pressure', self.port_range),
                   'testsupport: find_unused_port(): no port of %s could be leased (the range '
                   'is held by live processes, or this process holds %d of the %d blocks and '
                   'ports it may); handing out kernel-assigned ports, which bind(port 0) '
                   'callers may also be given: release ports with release_port(), lower %s, '
                   'or widen %s' % (self._range_text(), self.held_units(), self.max_units,
                                    LEASE_ENV_VAR, RANGE_ENV_VAR))
        port = self._from_kernel(family, socktype, host, caller, reserved, now, expiry)
        if port is not None:
            return port
        # No name could be held (no descriptor left): CPython's way, unleased.
        port = _sockets.kernel_port(family, socktype, host, self.platform, caller)
        self._known.add(port)
        return port

    def _reuse_own(self, family, socktype, host, caller, now, expiry):
        """Re-lease one of our find_unused_port() leases older than a second and unbound."""
        tried = 0
        # No copy of the deque (it holds every lease: a copy per call under
        # pressure cost more than the rest): it changes only right before return.
        for lease in self._expiries:
            if tried >= _REUSE_TRIES or now - lease.started < _MIN_REUSE_SECONDS:
                break
            if self._leases.get(lease.port) is not lease or lease.reserved:
                continue
            tried += 1
            if _sockets.bind_error(family, socktype, host, lease.port, self.platform,
                                   caller) is not None:
                continue
            # The store's entry (the port's own, or its block's) must outlive
            # the longer lease, or another process may take the port over.
            handle = lease.handle or self._blocks.get(lease.port // BLOCK_SIZE)
            until = expiry if lease.handle else self._block_expiry(expiry)
            if handle is None or (handle.expiry < expiry
                                  and not self.store.renew(handle, until)):
                continue
            lease.expiry = expiry
            lease.started = now
            self._expiries.remove(lease)
            self._expiries.append(lease)
            return lease.port
        return None

    def _store_failed(self, exc):
        if self.platform.is_fd_exhausted(exc):
            return  # no descriptor for another name: the caller's pressure path
        _warn_once(('store', self.store.describe(), str(exc)),
                   'testsupport: the lease store %s failed (%s); no more ports are leased '
                   'from it in this process until it works again' % (self.store.describe(), exc))

    # -- leases --------------------------------------------------------------------
    def _lease(self, port, reserved, now, expiry, handle=None):
        lease = _Lease(port, expiry, reserved, now, handle)
        self._leases[port] = lease
        if handle is not None:
            self._singles += 1
        self._expiries.append(lease)
        self._known.add(port)
        index = port // BLOCK_SIZE
        if handle is None and index in self._live:
            self._live[index] += 1
            self._idle.pop(index, None)
        return port

    def _end(self, lease, now, expired=False):
        """A lease ends: its port goes back (a reserved one that expired is quarantined)."""
        if lease.handle is not None:
            self._singles -= 1
            try:
                self.store.release(lease.handle)
            except _compat.OS_ERRORS:
                pass
            if expired and lease.reserved:
                self._quarantine.add(lease.port)
            return
        index = lease.port // BLOCK_SIZE
        if index in self._live:
            self._live[index] -= 1
            if self._live[index] <= 0:
                self._idle[index] = now
            if expired and lease.reserved:
                self._quarantine.add(lease.port)
            else:
                self._free.append(lease.port)

    def _reap(self, now):
        """End the leases that have expired."""
        expiries = self._expiries
        while expiries and expiries[0].expiry <= now:
            lease = expiries.popleft()
            if self._leases.get(lease.port) is lease:
                del self._leases[lease.port]
                self._end(lease, now, expired=True)
        # Leases released early leave their entry here; drop them in passing.
        while expiries and self._leases.get(expiries[0].port) is not expiries[0]:
            expiries.popleft()

    def _range_text(self):
        return 'kernel-assigned ports' if self.port_range is None else '%d-%d' % self.port_range

    def _exhausted(self, caller):
        if self.held_units() >= self.max_units:
            why = ('this process holds %d blocks and ports, the most it may (about a quarter '
                   'of its file-descriptor limit)' % self.held_units())
        elif self.port_range is None:
            why = '%d kernel-assigned ports in a row were leased to others' % _KERNEL_TRIES
        elif self.unit == 'port':
            why = ('every port in it is leased by a live process or bound (%d by this one)'
                   % len(self._leases))
        else:
            own = self.held_units()
            why = ('every block of %d ports in it is held by a live process (%d by this one, '
                   'whose ports are all leased or bound)' % (BLOCK_SIZE, own))
        return NoFreePortError(
            self.platform.errnos['EADDRINUSE'],
            '%s(): no free port in %s: %s; release ports with release_port(), widen %s, or '
            'run fewer workers (find_unused_port() does not fail this way: it falls back to '
            'kernel-assigned ports)' % (caller, self._range_text(), why, RANGE_ENV_VAR))

    # -- detached leases (the port command) --------------------------------------------
    def lease_detached(self, count, family, socktype, lease_seconds, caller):
        """*count* single-port leases meant to outlive this process; ``[(port, handle)]``.

        All or nothing: on any failure every name taken is given back and the
        error propagates.
        """
        with self._mutex:
            host = _sockets.loopback(family, None)
            expiry = self.clock() + lease_seconds
            taken = []
            try:
                candidates = (self._range_candidates() if self.port_range is not None
                              else None)
                while len(taken) < count:
                    port = self._next_detached(candidates, family, socktype, host, caller,
                                               expiry, taken)
                    if port is None:
                        raise self._detached_exhausted(caller, len(taken), count)
            except BaseException:
                for _port, handle in taken:
                    self.store.release(handle)
                raise
            return taken

    def _detached_exhausted(self, caller, taken, count):
        """The error when no more detached ports could be had: the range, or descriptors.

        Each port is held by a descriptor until the command ends, and a name
        check that fails for want of one looks like a taken name: near the
        descriptor limit, say that instead of blaming the range.
        """
        limit = platform_shim.fd_soft_limit()
        if limit is None or taken + 64 < limit:
            return self._exhausted(caller)
        return NoFreePortError(
            self.platform.errnos['EADDRINUSE'],
            '%s: only %d of %d ports could be leased: each is held by a file descriptor '
            'until the command ends, and this process may open %d (ulimit -n); ask for '
            'fewer, or raise the limit' % (caller, taken, count, limit))

    def _next_detached(self, candidates, family, socktype, host, caller, expiry, taken):
        attempts = 0
        while True:
            attempts += 1
            if candidates is not None:
                if not candidates:
                    return None
                port = candidates.pop()
            else:
                if len(taken) >= self.max_units:
                    return None
                port = _sockets.kernel_port(family, socktype, host, self.platform, caller)
            if port in self._leases:
                continue
            handle = self._acquire_single(port, expiry, detached=True)
            if handle is None:
                if candidates is None and attempts >= _KERNEL_TRIES:
                    return None
                continue
            if _sockets.bind_error(family, socktype, host, port, self.platform,
                                   caller) is not None:
                self.store.release(handle)
                continue
            taken.append((port, handle))
            return port


def _max_units(platform):
    """Blocks and single ports one process may hold: a quarter of its descriptor limit."""
    limit = platform_shim.fd_soft_limit()
    return max(16, min(1024, limit // 4)) if limit else 256


# -- this process's allocator -------------------------------------------------

_state = {}
_state_lock = threading.Lock()


def _current(environ=None, settings=None):
    """The allocator for this process and configuration (a fresh one after fork).

    Created once under a lock: threads making their first call at once share it.
    *settings* is ``_settings(environ)`` if the caller has it already.
    """
    environ = os.environ if environ is None else environ
    settings = _settings(environ) if settings is None else settings
    key = (os.getpid(),) + settings[1:]
    allocator = _state.get(key)
    if allocator is not None:
        return allocator
    with _state_lock:
        allocator = _state.get(key)
        if allocator is None:
            platform = platform_shim.current()
            config = _config(environ, platform)
            store = _leases.open_store(environ, platform, config.directory, config.private,
                                       time.time, key[0], platform_shim.user_id(), None)
            allocator = _Allocator(config.port_range, config.lease_seconds, store, platform)
            if not _state:
                atexit.register(_release_at_exit)
                _compat.at_fork_in_child(_after_fork_in_child)
            _forget_parent()
            _state[key] = allocator
    return allocator


def _after_fork_in_child():
    """In a forked child: a fresh creation lock (a thread may have held it), no parent state."""
    global _state_lock
    _state_lock = threading.Lock()
    _forget_parent()


def _forget_parent():
    """Drop the allocators a forked child inherited (their names stay the parent's)."""
    pid = os.getpid()
    for key in [k for k in _state if k[0] != pid]:
        _state.pop(key).forget_after_fork()


def _release_at_exit(state=None):
    """At exit, list forgotten reserve_port() leases and give back this process's leases."""
    pid = os.getpid()
    forgotten = []
    for key, allocator in list((_state if state is None else state).items()):
        if key[0] != pid or allocator.pid != pid:
            continue  # inherited through fork: the parent's to release
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
    the port; an expired lease that was never released is not handed out
    again by this process either. Processes that do not use testsupport are
    kept off it only by the choice of range (outside the ephemeral ports):
    bind it soon.

    Raises ValueError for a family or type without ports or a bad
    ``TESTSUPPORT_PORT_*`` variable, :class:`NoFreePortError` when the range is
    used up, and the socket error (explained) when no socket of that family can
    be bound on *host* (e.g. AF_INET6 where IPv6 is off); a failed check leases
    nothing. With ``TESTSUPPORT_PORT_STRATEGY=ephemeral`` the port is the
    kernel's and not leased.
    """
    return lease_port(family, socktype, host, 'reserve_port', platform_shim.current(),
                      reserved=True)


def lease_port(family, socktype, host, caller, platform, reserved=False, never_fail=False,
               environ=None):
    """The one path to a leased port (``reserve_port``, ``find_unused_port``, fixtures).

    *caller* names the public function in messages; *never_fail* (find_unused_port)
    falls back instead of raising NoFreePortError.
    """
    environ = os.environ if environ is None else environ
    _sockets.check_port_family(caller, family, platform, socktype)
    if host is not None:
        _sockets.check_host(caller, host)
    settings = _settings(environ)
    if _parse_strategy(settings[0]) == 'ephemeral':
        return _sockets.kernel_port(family, socktype, host, platform, caller)
    return _current(environ, settings).allocate(family, socktype, host, reserved, caller,
                                                never_fail)


def release_port(port):
    """End the lease on *port* now, so the port can be handed out again.

    Releasing a port whose lease has already ended is fine, and never ends a
    lease this process took on the port since. The lease is found whatever the
    ``TESTSUPPORT_*`` variables say now. Raises TypeError for a non-int and
    ValueError for a port this process never leased. A no-op under
    ``TESTSUPPORT_PORT_STRATEGY=ephemeral``.
    """
    if isinstance(port, bool) or not isinstance(port, _compat.integer_types):
        raise TypeError('release_port(): port must be an int that reserve_port() returned, '
                        'got %s %r' % (type(port).__name__, port))
    if _strategy(os.environ) == 'ephemeral':
        return
    pid = os.getpid()
    for key, allocator in list(_state.items()):
        if key[0] == pid and allocator.release(port):
            return
    raise ValueError('release_port(): port %r is not leased by this process (pid %d); pass a '
                     'port that reserve_port() returned' % (port, pid))


@contextlib.contextmanager
def reserved_port(family=socket.AF_INET, socktype=socket.SOCK_STREAM, host=None):
    """Context manager: :func:`reserve_port` on entry, :func:`release_port` on exit."""
    port = lease_port(family, socktype, host, 'reserved_port', platform_shim.current(),
                      reserved=True)
    try:
        yield port
    finally:
        release_port(port)


def lease_detached_ports(count, family, socktype, lease_seconds=None, environ=None):
    """*count* ports leased beyond this process (the ``port`` command): ``(ports, keeper)``.

    Nothing is held beyond this process until ``keeper.hold()`` is called, so
    a caller that fails to hand the ports on calls ``keeper.give_back()``.
    ValueError when *count* exceeds the candidate range, NoFreePortError when
    fewer are free.
    """
    environ = os.environ if environ is None else environ
    platform = platform_shim.current()
    _sockets.check_port_family('port', family, platform, socktype)
    if _strategy(environ) == 'ephemeral':
        ports = [_sockets.kernel_port(family, socktype, None, platform, 'port')
                 for _ in range(count)]
        return ports, _holder.Keeper(None, [], 0.0)
    allocator = _current(environ)
    seconds = allocator.lease_seconds if lease_seconds is None else lease_seconds
    if allocator.port_range is not None:
        low, high = allocator.port_range
        if count > high - low + 1:
            raise ValueError('port: -n %d is more ports than the range %d-%d holds (%d); ask '
                             'for fewer, or widen %s' % (count, low, high, high - low + 1,
                                                         RANGE_ENV_VAR))
    taken = allocator.lease_detached(count, family, socktype, seconds, 'port')
    return [port for port, _h in taken], _holder.Keeper(
        allocator.store, [h for _p, h in taken], time.time() + seconds)


def release_detached_ports(ports, environ=None):
    """End detached leases of *ports* (the ``release`` command); the ports not released.

    Under ``TESTSUPPORT_PORT_STRATEGY=ephemeral`` nothing was leased: a no-op,
    as :func:`release_port`.
    """
    environ = os.environ if environ is None else environ
    if _strategy(environ) == 'ephemeral':
        return []
    store = _current(environ).store
    return [port for port in ports if not store.release_detached('p%d' % port)]
