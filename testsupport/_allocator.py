"""The port allocator's engine: the policy behind :mod:`testsupport.allocator`.

Which port, recycling, and what to do under pressure (the public module's
docstring tells the contract and the configuration). One :class:`Allocator`
per process and configuration holds its leases; it takes them in one of three
*allocation units*, small strategies sharing one :class:`_Request`: blocks of
BLOCK_SIZE aligned ports (:class:`_Blocks`), single ports of a small range
(:class:`_SinglePorts`) or kernel-assigned ports (:class:`_KernelPorts`).
:class:`DetachedLeases` takes the CLI's leases that outlive the process.

This process's allocators and the paths to a lease (``lease_port``,
``release``) are in :mod:`testsupport._ports`.
"""
from __future__ import absolute_import, division, print_function

import collections
import os
import socket
import threading
import time

from . import _compat, _config, _leases, _sockets, _system

__all__ = [
    'Allocator',
    'BLOCK_SIZE',
    'KERNEL_TRIES',
    'NoFreePortError',
    'PortRegistryWarning',
]


#: Ports per block; blocks are aligned (block ``n`` is ports ``32n .. 32n+31``)
#: so that processes with different ranges still agree on them.
BLOCK_SIZE = 32

#: A range with fewer ports than this is leased port by port, not by blocks.
_MIN_BLOCK_RANGE = 4 * BLOCK_SIZE
#: Stores whose names cost no descriptor: as many blocks as the range has.
_UNBOUNDED_UNITS = 1 << 20
#: A kernel-assigned port is tried this many times before giving up.
KERNEL_TRIES = 64
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


#: The loopback address of each family with ports (the host rule of _sockets).
_LOOPBACK = {socket.AF_INET: _sockets.HOST, socket.AF_INET6: _sockets.HOSTv6}


class NoFreePortError(socket.error):
    """No port could be leased: the candidate range is used up.

    A ``socket.error`` (``OSError`` on Python 3) with errno EADDRINUSE, as a
    failed ``bind()`` would raise; the message names the range and the remedy.
    Only :func:`reserve_port` and :func:`reserved_port` raise it.
    """

    # Users catch it as testsupport.allocator.NoFreePortError: tracebacks say so.
    __module__ = 'testsupport.allocator'


#: Leases are weaker than usual here (a store fell back, or ports are reused).
PortRegistryWarning = _leases.PortRegistryWarning


def _warn_once(key, message):
    _leases.warn_once(key, message, PortRegistryWarning, stacklevel=5)


# -- allocation units: what a lease is taken from ------------------------------

class _Request(object):
    """One allocation: a port for *family*/*socktype* on *host*, for *caller*, until *expiry*."""
    __slots__ = ('family', 'socktype', 'host', 'caller', 'reserved', 'now', 'expiry')

    def __init__(self, family, socktype, host, caller, reserved, now, expiry):
        self.family, self.socktype, self.host = family, socktype, host
        self.caller, self.reserved, self.now, self.expiry = caller, reserved, now, expiry


class _Blocks(object):
    """Blocks of BLOCK_SIZE aligned ports, each held under one name, handed out port by port."""

    name = 'block'

    def __init__(self, allocator):
        self.allocator = allocator

    def take(self, request, never_fail):
        """A port of a block we hold, claiming another block if needed.

        For find_unused_port() (*never_fail*), after the range was found full,
        no block is looked for again before the rescan time.
        """
        a, r = self.allocator, request
        return self._from_blocks(r, rescan=not never_fail or r.now >= a._rescan_at)

    def why_exhausted(self):
        return ('every block of %d ports in it is held by a live process (%d by this one, '
                'whose ports are all leased or bound)' % (BLOCK_SIZE, self.allocator.held_units()))

    def _from_blocks(self, request, rescan=True):
        """A port of a block we hold, claiming another block if needed (and *rescan*)."""
        a, r = self.allocator, request
        budget = len(a._free)
        candidates = None
        while True:
            while budget > 0:
                budget -= 1
                port = a._free.popleft()
                index = port // BLOCK_SIZE
                if index not in a._blocks or port in a._leases or port in a._quarantine:
                    continue  # its block went back, or a duplicate entry
                try:
                    error = _sockets.bind_error(r.family, r.socktype, r.host, port, a.platform,
                                                r.caller)
                except BaseException:
                    a._free.appendleft(port)  # a failed check costs nothing
                    raise
                if error is not None:
                    a._free.append(port)  # bound by a process that does not lease
                    continue
                handle = a._blocks[index]
                # Renewed only when this lease would outlive the block, then by
                # a whole lease time more: a file store rewrites the block's
                # entry about once per lease time, not at every lease.
                if r.expiry > handle.expiry and not a.store.renew(
                        handle, a._block_expiry(r.expiry)):
                    a._drop_block(index)  # taken over after it expired
                    continue
                return a._lease(port, r.reserved, r.now, r.expiry)
            if a.held_units() >= a.max_units:
                return None
            if candidates is None:
                if not rescan:
                    return None
                candidates = self._candidate_blocks()
            ports = self._claim_next(candidates, r.expiry)
            if ports is None:
                a._rescan_at = r.now + _RESCAN_SECONDS
                return None
            a._free.extendleft(reversed(ports))
            budget = len(ports)

    def _candidate_blocks(self):
        """Every block of the range once, from a random start (no scan from the front)."""
        a = self.allocator
        first, last = a._first_block, a._last_block
        count = last - first + 1
        import random
        start = random.randrange(count)
        for offset in range(count):
            index = first + (start + offset) % count
            if index not in a._blocks:
                yield index

    def _claim_next(self, candidates, expiry):
        """Claim the next free block; its ports not leased singly elsewhere, or None."""
        a = self.allocator
        low, high = a.port_range
        for index in candidates:
            try:
                handle = a.store.acquire('b%d' % index, a._block_expiry(expiry))
            except _compat.OS_ERRORS as exc:
                a._store_failed(exc)
                return None
            if handle is None:
                continue
            a._blocks[index] = handle
            a._live[index] = 0
            a.mark_idle(index, a.clock())
            return [p for p in range(index * BLOCK_SIZE, (index + 1) * BLOCK_SIZE)
                    if low <= p <= high and p not in a._leases
                    and not a.store.held('p%d' % p)]
        return None


class _SinglePorts(object):
    """Ports of a small range, each held under a name of its own."""

    name = 'port'

    def __init__(self, allocator):
        self.allocator = allocator

    def take(self, request, never_fail):
        a = self.allocator
        return a._single(a.range_candidates(), request)

    def why_exhausted(self):
        return ('every port in it is leased by a live process or bound (%d by this one)'
                % len(self.allocator._leases))


class _KernelPorts(object):
    """Kernel-assigned ports (bind to port 0), each held under a name of its own."""

    name = 'kernel'

    def __init__(self, allocator):
        self.allocator = allocator

    def take(self, request, never_fail):
        return self.allocator._from_kernel(request)

    def why_exhausted(self):
        return '%d kernel-assigned ports in a row were leased to others' % KERNEL_TRIES


# -- the allocator ------------------------------------------------------------

class _Lease(object):
    __slots__ = ('port', 'expiry', 'reserved', 'started', 'handle')

    def __init__(self, port, expiry, reserved, started, handle=None):
        self.port = port
        self.expiry = expiry
        self.reserved = reserved
        self.started = started
        self.handle = handle  # a single-port lease's store handle; None inside a block


class Allocator(object):
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
        self._unit = (_KernelPorts(self) if port_range is None else
                      _Blocks(self) if size >= _MIN_BLOCK_RANGE else _SinglePorts(self))
        #: What is leased from the store: 'block', 'port' or 'kernel' (``info``).
        self.unit = self._unit.name
        self._blocks = {}       # block index -> store handle
        self._live = {}         # block index -> leases running in it
        self._idle = {}         # block index -> when its last lease ended
        self._idle_due = 0.0    # no idle block goes back before then
        self._free = collections.deque()
        self._leases = {}       # port -> _Lease
        self._expiries = collections.deque()
        self._quarantine = set()  # reserve_port() leases that expired unreleased
        self._known = set()     # every port this allocator ever leased
        self._singles = 0       # leases holding a name of their own (single ports)
        self.mutex = threading.Lock()
        self._rescan_at = 0.0   # find_unused_port() looks for a free block from then on
        if port_range is not None:
            low, high = port_range
            self._first_block, self._last_block = low // BLOCK_SIZE, high // BLOCK_SIZE

    # -- public operations -------------------------------------------------
    def allocate(self, family, socktype, host, reserved, caller, never_fail=False):
        """Lease a port bindable for *family*/*socktype* on *host*; return it.

        *host* None means the family's loopback address. The common case, a
        port of a block this process holds, costs one bind() probe and a few
        dictionary operations (:meth:`_from_held_block`); everything else goes
        through the allocation unit (:class:`_Blocks` etc.).
        """
        host = _LOOPBACK.get(family) if host is None else _sockets.loopback(family, host)
        if host is None:
            host = _sockets.loopback(family, host)
        with self.mutex:
            now = self.clock()
            expiries = self._expiries
            # _reap() only when the oldest entry has expired or was released
            # early (that drops it, so the deque never outgrows the leases).
            if expiries:
                head = expiries[0]
                if head.expiry <= now or self._leases.get(head.port) is not head:
                    self._reap(now)
            if self._idle and now >= self._idle_due:
                self._return_idle_blocks(now)
            expiry = now + self.lease_seconds
            if self._free:
                port = self._from_held_block(family, socktype, host, reserved, caller, now,
                                             expiry)
                if port is not None:
                    return port
            request = _Request(family, socktype, host, caller, reserved, now, expiry)
            port = self._unit.take(request, never_fail)
            if port is not None:
                return port
            if never_fail:
                return self._under_pressure(request)
            raise self.exhausted(caller)

    def _from_held_block(self, family, socktype, host, reserved, caller, now, expiry):
        """A free port of a block this process holds, or None: the lean common path.

        Each port of ``_free`` is probed once per pass (one bind(), the C-level
        socket); one bound by a process that does not lease goes to the back.
        """
        free, blocks, leases = self._free, self._blocks, self._leases
        for _ in range(len(free)):
            port = free.popleft()
            index = port // BLOCK_SIZE
            handle = blocks.get(index)
            if handle is None or port in leases or port in self._quarantine:
                continue  # its block went back, or a duplicate entry
            try:
                ok = _sockets.bindable(family, socktype, host, port, self.platform, caller)
            except BaseException:
                free.appendleft(port)  # a failed check costs nothing
                raise
            if not ok:
                free.append(port)  # bound by a process that does not lease
                continue
            # Renewed only when this lease would outlive the block, then by a
            # whole lease time more: a file store rewrites the block's entry
            # about once per lease time, not at every lease.
            if expiry > handle.expiry and not self.store.renew(handle,
                                                               self._block_expiry(expiry)):
                self._drop_block(index)  # taken over after it expired
                continue
            lease = _Lease(port, expiry, reserved, now)
            leases[port] = lease
            self._expiries.append(lease)
            self._known.add(port)
            live = self._live
            if index in live:
                live[index] += 1
                if index in self._idle:
                    del self._idle[index]
            return port
        return None

    def release(self, port):
        """End the lease on *port*; True if this allocator knew the port."""
        with self.mutex:
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

    def is_leased(self, port):
        """True if this allocator leases *port* now."""
        return port in self._leases

    def held_units(self):
        """How many blocks and single ports this allocator holds in its store."""
        return len(self._blocks) + self._singles

    def close(self):
        """Give every block and single port back (at exit, or when the config changed)."""
        with self.mutex:
            blocks, self._blocks = self._blocks, {}
            leases, self._leases = self._leases, {}
            self._singles = 0
            self._free.clear()
            self._expiries.clear()
            self._live.clear()
            self._idle.clear()
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

    # -- blocks (see _Blocks) -------------------------------------------------
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

    def mark_idle(self, index, now):
        """Block *index* has no lease running since *now*: it goes back a second later."""
        self._idle[index] = now
        if len(self._idle) == 1 or now + _IDLE_BLOCK_SECONDS < self._idle_due:
            self._idle_due = now + _IDLE_BLOCK_SECONDS

    def _return_idle_blocks(self, now):
        if not self._idle:
            return
        for index, since in list(self._idle.items()):
            if now - since >= _IDLE_BLOCK_SECONDS:
                self._drop_block(index)
        if self._idle:
            self._idle_due = min(self._idle.values()) + _IDLE_BLOCK_SECONDS

    # -- single ports --------------------------------------------------------
    def range_candidates(self):
        low, high = self.port_range
        ports = list(range(low, high + 1))
        import random
        random.shuffle(ports)
        return ports

    def _single(self, candidates, request):
        """Lease the first of *candidates* whose single-port name and bind check succeed."""
        r = request
        for port in candidates:
            if port in self._leases or port in self._quarantine:
                continue
            if self.held_units() >= self.max_units:
                return None
            handle = self.acquire_single(port, r.expiry)
            if handle is None:
                continue
            try:
                error = _sockets.bind_error(r.family, r.socktype, r.host, port, self.platform,
                                            r.caller)
            except BaseException:
                self.store.release(handle)  # a failed check costs nothing
                raise
            if error is not None:
                self.store.release(handle)
                continue
            return self._lease(port, r.reserved, r.now, r.expiry, handle)
        return None

    def acquire_single(self, port, expiry, detached=False):
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

    def _from_kernel(self, request):
        """Kernel-assigned ports, each leased alone.

        Linux' bind(port 0) often returns the same port again once it is
        closed, so a port we cannot use stays bound until the search ends.
        """
        r = request
        rejected = []
        try:
            for _attempt in range(KERNEL_TRIES):
                sock = socket.socket(r.family, r.socktype)
                rejected.append(sock)
                port = _sockets.bind_port(sock, r.host, r.caller, self.platform)
                if port in self._leases or port in self._quarantine:
                    continue
                if self.held_units() >= self.max_units:
                    return None
                handle = self.acquire_single(port, r.expiry)
                if handle is not None:
                    return self._lease(port, r.reserved, r.now, r.expiry, handle)
        finally:
            for sock in rejected:
                sock.close()
        return None

    # -- pressure ------------------------------------------------------------------
    def _under_pressure(self, request):
        """find_unused_port() never fails where bind(port 0) works: reuse, then kernel ports."""
        r = request
        port = self._reuse_own(request)
        if port is not None:
            return port
        _warn_once(('pressure', self.port_range),
                   'testsupport: find_unused_port(): no port of %s could be leased (the range '
                   'is held by live processes, or this process holds %d of the %d blocks and '
                   'ports it may); handing out kernel-assigned ports, which bind(port 0) '
                   'callers may also be given: release ports with release_port(), lower %s, '
                   'or widen %s' % (self._range_text(), self.held_units(), self.max_units,
                                    _config.LEASE_ENV_VAR, _config.RANGE_ENV_VAR))
        port = self._from_kernel(request)
        if port is not None:
            return port
        # No name could be held (no descriptor left): CPython's way, unleased.
        port = _sockets.kernel_port(r.family, r.socktype, r.host, self.platform, r.caller)
        self._known.add(port)
        return port

    def _reuse_own(self, request):
        """Re-lease one of our find_unused_port() leases older than a second and unbound."""
        r = request
        now, expiry = r.now, r.expiry
        tried = 0
        # No copy of the deque (it holds every lease: a copy per call under
        # pressure cost more than the rest): it changes only right before return.
        for lease in self._expiries:
            if tried >= _REUSE_TRIES or now - lease.started < _MIN_REUSE_SECONDS:
                break
            if self._leases.get(lease.port) is not lease or lease.reserved:
                continue
            tried += 1
            if _sockets.bind_error(r.family, r.socktype, r.host, lease.port, self.platform,
                                   r.caller) is not None:
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
                self.mark_idle(index, now)
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

    def exhausted(self, caller):
        if self.held_units() >= self.max_units:
            why = ('this process holds %d blocks and ports, the most it may (about a quarter '
                   'of its file-descriptor limit)' % self.held_units())
        else:
            why = self._unit.why_exhausted()
        return NoFreePortError(
            self.platform.errnos['EADDRINUSE'],
            '%s(): no free port in %s: %s; release ports with release_port(), widen %s, or '
            'run fewer workers (find_unused_port() does not fail this way: it falls back to '
            'kernel-assigned ports)' % (caller, self._range_text(), why, _config.RANGE_ENV_VAR))


def _max_units(platform):
    """Blocks and single ports one process may hold: a quarter of its descriptor limit."""
    limit = _system.fd_soft_limit()
    return max(16, min(1024, limit // 4)) if limit else 256
