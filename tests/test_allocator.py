"""Tests for testsupport.allocator: the policy (which port, recycling, pressure, threads).

The lease stores themselves are tested in test_leases.py. Every test here uses
a private store: a kernel namespace or a registry directory of its own.
"""
from __future__ import absolute_import, division, print_function

import contextlib
import errno
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import warnings

from testsupport import (
    _allocator,
    _config,
    _detached,
    _leases,
    _ports,
    _sockets,
    _system,
    allocator,
    platform_shim,
    socket_helper,
)
from tests.fakes import FakeClock
from tests.helpers import EnvMixin, is_closed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLATFORM = platform_shim.current()
KERNEL_NAMES = _leases.kernel_names_work(PLATFORM)
skip_unless_root = unittest.skipUnless(
    _system.user_id() == 0 and sys.platform.startswith('linux') and hasattr(os, 'fork'),
    'requires root on Linux (the test creates two users with useradd)')
requires_kernel_names = unittest.skipUnless(
    KERNEL_NAMES, 'needs abstract AF_UNIX names (Linux); the file store is tested everywhere')


def bindable(port, family=socket.AF_INET, socktype=socket.SOCK_STREAM):
    return _sockets.bind_error(family, socktype, None, port, PLATFORM, 'test') is None


def random_range(blocks=1):
    """A range of *blocks* whole blocks in the default candidate range, all bindable now.

    Other processes on this machine use the same range (and leave TIME_WAIT
    sockets), so the tests avoid blocks where a port is busy.
    """
    low, high = _config.default_range(PLATFORM.ephemeral_port_range())
    for _attempt in range(100):
        first = random.randrange(low // _allocator.BLOCK_SIZE + 1,
                                 high // _allocator.BLOCK_SIZE - blocks)
        ports = range(first * _allocator.BLOCK_SIZE, (first + blocks) * _allocator.BLOCK_SIZE)
        if all(bindable(port) for port in ports):
            break
    return (ports[0], ports[-1])


def on_a_quiet_range(blocks, check, attempts=10):
    """Run ``check(port_range)`` on a random_range(*blocks*); again on another if disturbed.

    Other processes (another tox environment running this suite at the same
    time) bind ports in the same candidate range without asking this test's
    private store; the allocator rightly skips a port they hold, and a check
    that takes a whole range then comes out short. Such a run proves nothing:
    the allocator's own bind probes record it, and *check* runs again on a
    fresh range. A failure on a range no outsider touched is the verdict.
    """
    outsiders = []
    probe = _sockets.bind_error

    def watched_probe(family, socktype, host, port, platform, caller):
        error = probe(family, socktype, host, port, platform, caller)
        if error is not None:
            outsiders.append(port)
        return error
    _sockets.bind_error = watched_probe
    try:
        for attempt in range(attempts):
            low, high = random_range(blocks)
            del outsiders[:]
            try:
                return check((low, high))
            except (AssertionError, allocator.NoFreePortError):
                disturbed = [port for port in outsiders if low <= port <= high]
                if not disturbed or attempt == attempts - 1:
                    raise
    finally:
        _sockets.bind_error = probe


class PolicyTestCase(EnvMixin, unittest.TestCase):
    """Allocators on a private store; subclasses choose the store."""

    def make_store(self, clock):
        return _leases.MemoryStore(clock)

    def make_allocator(self, port_range, clock=None, lease=60.0, store=None, max_units=None):
        clock = clock or FakeClock()
        store = store or self.make_store(clock)
        alloc = _allocator.Allocator(port_range, lease, store, PLATFORM, clock=clock,
                                     max_units=max_units)
        self.addCleanup(alloc.close)
        return alloc

    def take(self, alloc, reserved=True, family=socket.AF_INET, host=None, never_fail=False):
        return alloc.allocate(family, socket.SOCK_STREAM, host, reserved, 'reserve_port',
                              never_fail)


class PolicyTests(object):
    """The policy, whatever the store (mixed into one TestCase per store)."""

    def test_ports_are_distinct_in_range_and_bindable(self):
        port_range = random_range(4)
        alloc = self.make_allocator(port_range)
        ports = [self.take(alloc) for _ in range(100)]
        self.assertEqual(len(set(ports)), 100)
        for port in ports:
            self.assertTrue(port_range[0] <= port <= port_range[1])
        self.assertTrue(bindable(ports[-1]))

    def test_released_port_is_handed_out_again(self):
        on_a_quiet_range(1, self.check_released_port_is_handed_out_again)

    def check_released_port_is_handed_out_again(self, port_range):
        alloc = self.make_allocator(port_range)
        port = self.take(alloc)
        self.assertTrue(alloc.release(port))
        self.assertIn(port, [self.take(alloc) for _ in range(_allocator.BLOCK_SIZE)])

    def test_lease_expires_after_lease_time(self):
        clock = FakeClock()
        alloc = self.make_allocator(random_range(1), clock, lease=5)
        ports = [self.take(alloc, reserved=False) for _ in range(_allocator.BLOCK_SIZE)]
        self.assertRaises(allocator.NoFreePortError, self.take, alloc)
        clock.now += 5
        self.assertIn(self.take(alloc, reserved=False), ports)

    def test_expired_reservation_is_not_reused_until_released(self):
        # A late release_port() must never end the lease of the port's next holder.
        clock = FakeClock()
        low = random_range(1)[0]
        alloc = self.make_allocator((low, low), clock, lease=5)
        port = self.take(alloc)
        clock.now += 6
        self.assertRaises(allocator.NoFreePortError, self.take, alloc)
        self.assertEqual(alloc.unreleased(), [port])
        self.assertTrue(alloc.release(port))  # the late release ends nothing else...
        self.assertEqual(self.take(alloc), port)  # ...and makes the port available again
        self.assertTrue(alloc.release(port))

    def test_release_of_a_port_never_leased_is_refused(self):
        alloc = self.make_allocator(random_range(1))
        port = self.take(alloc)
        neighbour = port + 1 if port % _allocator.BLOCK_SIZE != 31 else port - 1
        self.assertFalse(alloc.release(neighbour))  # in our block, never leased
        self.assertFalse(alloc.release(1))

    def test_failed_checks_cost_nothing(self):
        on_a_quiet_range(2, self.check_failed_checks_cost_nothing)  # leased port by port

    def test_failed_checks_cost_nothing_in_blocks(self):
        on_a_quiet_range(4, self.check_failed_checks_cost_nothing)

    def check_failed_checks_cost_nothing(self, port_range):
        low, high = port_range
        alloc = self.make_allocator((low, high))
        for _ in range(1000):
            with self.assertRaises(socket.error) as cm:
                self.take(alloc, host='192.0.2.1')  # TEST-NET-1: not an address of ours
            self.assertIn('is not an address of this machine', str(cm.exception))
        self.assertEqual(alloc._leases, {})
        ports = [self.take(alloc) for _ in range(high - low + 1)]
        self.assertEqual(sorted(ports), list(range(low, high + 1)))

    def test_idle_block_goes_back_after_a_second(self):
        clock = FakeClock()
        alloc = self.make_allocator(random_range(4), clock)
        port = self.take(alloc)
        self.assertEqual(len(alloc._blocks), 1)
        alloc.release(port)
        clock.now += 0.5
        port = self.take(alloc)
        self.assertEqual(len(alloc._blocks), 1)  # still ours: it was idle only briefly
        alloc.release(port)
        clock.now += _allocator._IDLE_BLOCK_SECONDS
        alloc.release(self.take(alloc))  # the idle block goes back before a new one is taken
        clock.now += _allocator._IDLE_BLOCK_SECONDS
        alloc.allocate(socket.AF_INET, socket.SOCK_DGRAM, None, True, 'x')
        self.assertEqual(len(alloc._blocks), 1)

    def test_small_range_is_leased_port_by_port(self):
        low = random_range(1)[0]
        alloc = self.make_allocator((low, low + 3))
        self.assertEqual(alloc.unit, 'port')
        ports = [self.take(alloc) for _ in range(4)]
        self.assertEqual(sorted(ports), [low, low + 1, low + 2, low + 3])
        self.assertEqual(alloc.held_units(), 4)
        with self.assertRaises(allocator.NoFreePortError) as cm:
            self.take(alloc)
        self.assertIn('no free port in %d-%d' % (low, low + 3), str(cm.exception))
        for port in ports:
            alloc.release(port)
        self.assertEqual(alloc.held_units(), 0)

    def test_kernel_ports_are_leased_singly(self):
        alloc = self.make_allocator(None)
        self.assertEqual(alloc.unit, 'kernel')
        ports = [self.take(alloc) for _ in range(20)]
        self.assertEqual(len(set(ports)), 20)
        self.assertEqual(alloc.held_units(), 20)

    def test_port_bound_by_an_outsider_is_skipped(self):
        low, high = random_range(1)
        outsider = socket.socket()
        self.addCleanup(outsider.close)
        outsider.bind((socket_helper.HOST, low))
        alloc = self.make_allocator((low, high))
        ports = [self.take(alloc) for _ in range(_allocator.BLOCK_SIZE - 1)]
        self.assertNotIn(low, ports)

    def test_udp_and_ipv6_ports(self):
        alloc = self.make_allocator(random_range(2))
        port = alloc.allocate(socket.AF_INET, socket.SOCK_DGRAM, None, True, 'x')
        self.assertTrue(bindable(port, socktype=socket.SOCK_DGRAM))
        if socket_helper.IPV6_ENABLED:
            port = self.take(alloc, family=socket.AF_INET6)
            self.assertTrue(bindable(port, family=socket.AF_INET6))

    def test_threads_never_share_a_lease(self):
        alloc = self.make_allocator(random_range(8))
        results = []
        errors = []

        def take_many():
            try:
                results.extend(self.take(alloc) for _ in range(50))
            except Exception as exc:  # reported below
                errors.append(exc)
        threads = [threading.Thread(target=take_many) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(errors, [])
        self.assertEqual(len(set(results)), 200)


class PressureTests(object):
    """find_unused_port() never fails where bind(port 0) would work."""

    def test_never_fails_when_the_range_is_used_up(self):
        clock = FakeClock()
        caught = self.catch_warnings()
        alloc = self.make_allocator(random_range(1), clock)
        ports = [self.take(alloc, reserved=False, never_fail=True) for _ in range(40)]
        self.assertEqual(len(set(ports)), 40)  # 32 from the range, then kernel ports
        self.assertTrue(all(bindable(p) for p in ports))
        self.assertEqual(len(caught), 1)
        self.assertIn('handing out kernel-assigned ports', str(caught[0].message))
        with self.assertRaises(allocator.NoFreePortError):
            self.take(alloc)  # reserve_port() still says the range is full

    def test_reuses_its_own_old_leases_first(self):
        clock = FakeClock()
        alloc = self.make_allocator(random_range(1), clock)
        first = [self.take(alloc, reserved=False, never_fail=True) for _ in range(32)]
        clock.now += _allocator._MIN_REUSE_SECONDS
        self.assertEqual(self.take(alloc, reserved=False, never_fail=True), first[0])

    def test_a_full_range_is_looked_through_once_a_second(self):
        clock = FakeClock()
        store = self.make_store(clock)
        port_range = random_range(4)
        other = self.make_allocator(port_range, clock, store=store)
        for _ in range(4 * _allocator.BLOCK_SIZE):
            self.take(other)
        counting = CountingStore(store)
        alloc = self.make_allocator(port_range, clock, store=counting)
        self.catch_warnings()
        for _ in range(10):
            self.take(alloc, reserved=False, never_fail=True)
        self.assertEqual(counting.block_tries, 4)  # each block once, not once per call
        clock.now += _allocator._RESCAN_SECONDS
        self.take(alloc, reserved=False, never_fail=True)
        self.assertEqual(counting.block_tries, 8)
        with self.assertRaises(allocator.NoFreePortError):
            self.take(alloc)  # reserve_port() always looks
        self.assertEqual(counting.block_tries, 12)

    def test_at_most_max_units_held(self):
        caught = self.catch_warnings()
        alloc = self.make_allocator(random_range(8), max_units=2)
        with warnings.catch_warnings(record=True) as caught:  # so that -W error passes
            warnings.simplefilter('always')
            ports = [self.take(alloc, reserved=False, never_fail=True) for _ in range(100)]
        for warning in caught:  # at most one: warned once per process and range
            self.assertIs(warning.category, allocator.PortRegistryWarning)
            self.assertIn('handing out kernel-assigned ports', str(warning.message))
        self.assertEqual(len(set(ports[:64])), 64)  # two blocks, then CPython's way
        self.assertTrue(all(bindable(port) for port in ports))
        self.assertLessEqual(alloc.held_units(), 2)
        self.assertEqual(len(caught), 1)  # one warning, however many fall-backs


class CountingStore(object):
    """A store that counts the block names tried (acquire of ``b<n>``)."""

    def __init__(self, store):
        self.store = store
        self.block_tries = 0

    def acquire(self, name, expiry, detached=False):
        if name.startswith('b'):
            self.block_tries += 1
        return self.store.acquire(name, expiry, detached)

    def __getattr__(self, name):
        return getattr(self.store, name)


class MemoryPolicyTest(PolicyTests, PressureTests, PolicyTestCase):
    """The policy over the in-process store."""


class FilePolicyTest(PolicyTests, PolicyTestCase):
    """The policy over the file store (macOS, the BSDs, Windows)."""

    def make_store(self, clock):
        base = tempfile.mkdtemp(prefix='tsu-alloc-')
        self.addCleanup(shutil.rmtree, base, True)
        return _leases.FileStore(base, PLATFORM, clock)

    def test_blocks_are_unlocked_when_the_allocator_closes(self):
        clock = FakeClock()
        store = self.make_store(clock)
        alloc = self.make_allocator(random_range(4), clock, store=store)
        for _ in range(40):
            self.take(alloc)
        names = sorted(n[:-len('.lease')] for n in os.listdir(store.directory))
        self.assertEqual(len(names), 2)  # one entry per block
        self.assertEqual([store.judge(n) for n in names], ['locked', 'locked'])
        alloc.close()
        self.assertEqual([store.judge(n) for n in names], ['free', 'free'])

    def test_reused_leases_keep_their_block(self):
        # Under pressure find_unused_port() reuses its own leases again and
        # again; no other holder may take the block meanwhile, expiry or not.
        clock = FakeClock()
        store = self.make_store(clock)
        alloc = self.make_allocator(random_range(4), clock, lease=60, store=store,
                                    max_units=1)
        ports = [self.take(alloc, reserved=False, never_fail=True)
                 for _ in range(_allocator.BLOCK_SIZE)]
        index = ports[0] // _allocator.BLOCK_SIZE
        with warnings.catch_warnings(record=True):
            warnings.simplefilter('always')
            for _ in range(100):  # 150 s: beyond the block's first expiry
                clock.now += 1.5
                self.assertIn(self.take(alloc, reserved=False, never_fail=True), ports)
        other = _leases.FileStore(store.directory, PLATFORM, clock)
        self.assertEqual(other.judge('b%d' % index), 'locked')

    def test_block_of_a_live_owner_is_not_taken_over_whatever_the_clock(self):
        clock = FakeClock()
        store = self.make_store(clock)
        port_range = random_range(1)
        owner = self.make_allocator(port_range, clock, lease=30, store=store)
        for _ in range(_allocator.BLOCK_SIZE):
            self.take(owner)
        other_store = _leases.FileStore(store.directory, PLATFORM, clock)
        other = self.make_allocator(port_range, clock, lease=30, store=other_store)
        self.assertRaises(allocator.NoFreePortError, self.take, other)
        clock.now += 61  # the lease and the block's extra lease time: the lock still holds
        self.assertRaises(allocator.NoFreePortError, self.take, other)
        owner.close()
        self.assertTrue(port_range[0] <= self.take(other) <= port_range[1])


@requires_kernel_names
class KernelPolicyTest(PolicyTests, PressureTests, PolicyTestCase):
    """The policy over kernel-held names (Linux), in a namespace of this test's own."""

    def make_store(self, clock):
        return _leases.KernelStore(PLATFORM, 'test-%016x' % random.getrandbits(64))

    def test_block_held_by_another_allocator_is_not_taken(self):
        store = self.make_store(None)
        port_range = random_range(4)
        first = self.make_allocator(port_range, store=store)
        second = self.make_allocator(port_range, store=store)
        for _ in range(4 * _allocator.BLOCK_SIZE):
            self.take(first)
        self.assertRaises(allocator.NoFreePortError, self.take, second)
        first.close()
        self.assertTrue(port_range[0] <= self.take(second) <= port_range[1])

    def test_single_port_lease_keeps_a_block_claimer_off_that_port(self):
        store = self.make_store(None)
        low, high = random_range(4)
        single = store.acquire('p%d' % low, 0.0)
        self.addCleanup(store.release, single)
        alloc = self.make_allocator((low, high), store=store)
        self.assertEqual(alloc.unit, 'block')
        ports = [self.take(alloc) for _ in range(high - low)]
        self.assertNotIn(low, ports)
        self.assertRaises(allocator.NoFreePortError, self.take, alloc)



class FaultyStore(object):
    """A store passing calls on to *store*, except those the test makes fail.

    *acquire_error* is raised by every acquire(); *refuse* makes every name
    look taken; *renew_fails* loses every renewal (as when another process took
    the name over); *release_error* is raised by release() after it is recorded.
    """

    def __init__(self, store, acquire_error=None, refuse=False, renew_fails=False,
                 release_error=None):
        self.store = store
        self.acquire_error = acquire_error
        self.refuse = refuse
        self.renew_fails = renew_fails
        self.release_error = release_error
        self.released = []

    def acquire(self, name, expiry, detached=False):
        if self.acquire_error is not None:
            raise self.acquire_error
        if self.refuse:
            return None
        return self.store.acquire(name, expiry, detached)

    def renew(self, handle, expiry):
        if self.renew_fails:
            return False
        return self.store.renew(handle, expiry)

    def release(self, handle):
        self.released.append(handle.name)
        if self.release_error is not None:
            raise self.release_error
        self.store.release(handle)

    def __getattr__(self, name):
        return getattr(self.store, name)


class StoreFailureTest(PolicyTestCase):
    """What the allocator does when its store fails or loses names (memory store inside)."""

    def faulty(self, clock=None, **kwargs):
        return FaultyStore(_leases.MemoryStore(clock or FakeClock()), **kwargs)

    def test_failing_store_warns_once_and_leases_nothing(self):
        error = OSError(errno.EIO, 'Input/output error')
        low = random_range(4)[0]
        for port_range in ((low, low + 127), (low, low + 3)):  # blocks, then single ports
            caught = self.catch_warnings()
            alloc = self.make_allocator(port_range, store=self.faulty(acquire_error=error))
            for _ in range(2):
                with self.assertRaises(allocator.NoFreePortError):
                    self.take(alloc)
            self.assertEqual(len(caught), 1, [str(w.message) for w in caught])
            self.assertIn('the lease store memory (this process only) failed ([Errno %d] '
                          'Input/output error); no more ports are leased from it'
                          % errno.EIO, str(caught[0].message))
            self.assertEqual(alloc._leases, {})

    def test_no_descriptor_for_a_name_is_not_a_store_failure(self):
        caught = self.catch_warnings()
        error = OSError(errno.EMFILE, 'Too many open files')
        alloc = self.make_allocator(random_range(1), store=self.faulty(acquire_error=error))
        self.assertRaises(allocator.NoFreePortError, self.take, alloc)
        self.assertEqual(caught, [])  # find_unused_port() falls back to kernel ports instead

    def test_release_errors_are_not_raised(self):
        clock = FakeClock()
        error = OSError(errno.EIO, 'Input/output error')
        low = random_range(4)[0]
        single = self.make_allocator((low, low + 3), clock,
                                     store=self.faulty(clock, release_error=error))
        port = self.take(single)
        self.assertTrue(single.release(port))
        self.assertEqual(single.held_units(), 0)
        store = self.faulty(clock, release_error=error)
        blocks = self.make_allocator((low, low + 127), clock, store=store)
        blocks.release(self.take(blocks))
        clock.now += 5 * _allocator._IDLE_BLOCK_SECONDS
        self.take(blocks)  # the idle block goes back first: that fails, quietly
        blocks.close()
        self.assertEqual(blocks.held_units(), 0)
        self.assertEqual(len([n for n in store.released if n.startswith('b')]), 2)

    def test_block_whose_renewal_fails_is_dropped(self):
        # A renewal that fails means the block may be another process's now:
        # none of its ports is handed out again, even by a late release.
        clock = FakeClock()
        store = self.faulty(clock, renew_fails=True,
                            release_error=OSError(errno.EIO, 'Input/output error'))
        alloc = self.make_allocator(random_range(4), clock, lease=5, store=store)
        first = self.take(alloc)  # the block's entry runs for 10 s
        index = first // _allocator.BLOCK_SIZE
        clock.now += 4
        running = self.take(alloc)  # ends at 9 s: within the entry, no renewal
        clock.now += 1.5  # the next lease would outlive the entry: renewed, which fails
        third = self.take(alloc)
        self.assertEqual(store.released, ['b%d' % index])
        self.assertNotEqual(third // _allocator.BLOCK_SIZE, index)
        self.assertTrue(alloc.release(running))  # still a lease of ours, ended quietly
        ports = [self.take(alloc) for _ in range(_allocator.BLOCK_SIZE - 1)]
        self.assertNotIn(first, ports)
        self.assertNotIn(running, ports)

    def test_single_ports_stop_at_max_units(self):
        low = random_range(1)[0]
        alloc = self.make_allocator((low, low + 3), max_units=1)
        self.take(alloc)
        with self.assertRaises(allocator.NoFreePortError) as cm:
            self.take(alloc)
        self.assertIn('this process holds 1 blocks and ports, the most it may',
                      str(cm.exception))

    def test_kernel_ports_all_taken_by_others(self):
        caught = self.catch_warnings()
        alloc = self.make_allocator(None, store=self.faulty(refuse=True))
        with self.assertRaises(allocator.NoFreePortError) as cm:
            self.take(alloc)
        self.assertIn('no free port in kernel-assigned ports: %d kernel-assigned ports in a '
                      'row were leased to others' % _allocator.KERNEL_TRIES, str(cm.exception))
        port = self.take(alloc, reserved=False, never_fail=True)  # CPython's way, unleased
        self.assertTrue(bindable(port))
        self.assertEqual(alloc._leases, {})
        self.assertTrue(alloc.release(port))  # known: releasing it is no error
        self.assertEqual(len(caught), 1)

    def test_detached_kernel_ports_are_all_or_nothing(self):
        store = _leases.MemoryStore(FakeClock())
        alloc = self.make_allocator(None, store=store, max_units=2)
        taken = _detached.DetachedLeases(alloc).take(2, socket.AF_INET, socket.SOCK_STREAM, 60.0, 'port')
        self.assertEqual(len(set(port for port, _h in taken)), 2)
        for port, handle in taken:
            self.assertTrue(store.held('p%d' % port))
            store.release(handle)
        with self.assertRaises(allocator.NoFreePortError):
            _detached.DetachedLeases(alloc).take(3, socket.AF_INET, socket.SOCK_STREAM, 60.0, 'port')
        self.assertEqual(store._held, {})  # the two taken were given back
        refusing = self.make_allocator(None, store=self.faulty(refuse=True))
        with self.assertRaises(allocator.NoFreePortError) as cm:
            _detached.DetachedLeases(refusing).take(1, socket.AF_INET, socket.SOCK_STREAM, 60.0, 'port')
        self.assertIn('kernel-assigned ports in a row were leased to others', str(cm.exception))


class RecyclingEdgeTest(PolicyTestCase):
    """Quarantine, early releases and reuse under pressure, one case each."""

    def test_late_release_of_an_expired_reservation_returns_it_to_its_block(self):
        clock = FakeClock()
        alloc = self.make_allocator(random_range(4), clock, lease=5)
        first = self.take(alloc)
        clock.now += 6
        self.take(alloc, reserved=False)  # the block is still ours: this lease keeps it
        self.assertEqual(alloc.unreleased(), [first])
        self.assertTrue(alloc.release(first))
        self.assertEqual(alloc.unreleased(), [])
        ports = [self.take(alloc) for _ in range(_allocator.BLOCK_SIZE - 1)]
        self.assertIn(first, ports)

    def test_lease_released_early_is_not_ended_again_at_its_expiry(self):
        clock = FakeClock()
        alloc = self.make_allocator(random_range(1), clock, lease=5)
        self.take(alloc, reserved=False)
        alloc.release(self.take(alloc, reserved=False))
        clock.now += 6
        ports = [self.take(alloc) for _ in range(_allocator.BLOCK_SIZE)]
        self.assertEqual(len(set(ports)), _allocator.BLOCK_SIZE)

    def test_reserved_leases_are_never_reused_under_pressure(self):
        clock = FakeClock()
        caught = self.catch_warnings()
        alloc = self.make_allocator(random_range(1), clock)
        reserved = [self.take(alloc) for _ in range(_allocator.BLOCK_SIZE)]
        clock.now += _allocator._MIN_REUSE_SECONDS
        self.assertNotIn(self.take(alloc, reserved=False, never_fail=True), reserved)
        self.assertEqual(len(caught), 1)

    def test_bound_leases_are_not_reused_under_pressure(self):
        clock = FakeClock()
        alloc = self.make_allocator(random_range(1), clock)
        first = [self.take(alloc, reserved=False, never_fail=True)
                 for _ in range(_allocator.BLOCK_SIZE)]
        user = socket.socket()
        self.addCleanup(user.close)
        user.bind((socket_helper.HOST, first[0]))
        clock.now += _allocator._MIN_REUSE_SECONDS
        self.assertEqual(self.take(alloc, reserved=False, never_fail=True), first[1])

    def test_single_port_lease_that_cannot_be_renewed_is_not_reused(self):
        clock = FakeClock()
        caught = self.catch_warnings()
        low = random_range(1)[0]
        store = FaultyStore(_leases.MemoryStore(clock), renew_fails=True)
        alloc = self.make_allocator((low, low + 3), clock, store=store)
        first = [self.take(alloc, reserved=False, never_fail=True) for _ in range(4)]
        clock.now += _allocator._MIN_REUSE_SECONDS
        port = self.take(alloc, reserved=False, never_fail=True)
        self.assertNotIn(port, first)  # a kernel-assigned port instead
        self.assertEqual(len(caught), 1)


@requires_kernel_names
class ForkForgetTest(PolicyTestCase):

    def make_store(self, clock):
        return FaultyStore(_leases.KernelStore(PLATFORM, 'test-%016x' % random.getrandbits(64)))

    def test_forget_after_fork_closes_the_copies_and_releases_nothing(self):
        alloc = self.make_allocator(None)
        self.take(alloc)
        alloc2 = self.make_allocator(random_range(4))
        self.take(alloc2)
        for each in (alloc, alloc2):
            handles = list(each._blocks.values()) + [l.handle for l in each._leases.values()
                                                     if l.handle]
            self.assertEqual(len(handles), 1)
            each.forget_after_fork()
            self.assertTrue(is_closed(handles[0].sock))
            self.assertEqual(each.store.released, [])


class CurrentAllocatorTest(EnvMixin, unittest.TestCase):
    """The per-process allocator: created once, found again by release_port()."""

    def setUp(self):
        self.private_registry()
        self.set_env(allocator.RANGE_ENV_VAR, '%d-%d' % random_range(64))

    def test_sixteen_threads_at_first_use(self):
        start = threading.Event()
        errors = []

        def work():
            start.wait()
            try:
                for _ in range(100):
                    allocator.release_port(allocator.reserve_port())
            except Exception as exc:  # reported below
                errors.append(exc)
        threads = [threading.Thread(target=work) for _ in range(16)]
        for thread in threads:
            thread.start()
        start.set()
        for thread in threads:
            thread.join()
        self.assertEqual(errors, [])
        directory = os.environ[allocator.REGISTRY_ENV_VAR]
        self.assertEqual(len([k for k in _ports._state if k[2] == directory]), 1)

    def test_release_after_an_environment_change(self):
        port = allocator.reserve_port()
        self.set_env(allocator.LEASE_ENV_VAR, '7')
        self.set_env(allocator.RANGE_ENV_VAR, None)
        allocator.release_port(port)
        with self.assertRaises(ValueError):
            allocator.release_port(port + 100000)

    def test_bad_lease_times_are_refused(self):
        for value in ('inf', '1e400', 'nan', '0', '-1', '86401', 'soon'):
            self.set_env(allocator.LEASE_ENV_VAR, value)
            with self.assertRaises(ValueError) as cm:
                allocator.reserve_port()
            self.assertIn('TESTSUPPORT_PORT_LEASE is %r; expected a number of seconds greater '
                          'than 0 and at most 86400 (a day), e.g. 60' % value, str(cm.exception))

    def test_unreleased_reservations_are_listed_at_exit(self):
        alloc = _ports.current()
        port = allocator.reserve_port()
        key = [k for k, v in _ports._state.items() if v is alloc][0]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            _ports._release_at_exit({key: alloc})
        self.assertEqual(len(caught), 1)
        self.assertIn('1 port(s) reserved with reserve_port() were never released: %d' % port,
                      str(caught[0].message))

    def test_find_unused_port_uses_the_allocator(self):
        low, high = [int(x) for x in os.environ[allocator.RANGE_ENV_VAR].split('-')]
        self.assertTrue(low <= socket_helper.find_unused_port() <= high)

    def test_describe_names_the_store(self):
        report = dict(_detached.describe())
        self.assertEqual(report['port_strategy'], 'registry')
        expected = 'kernel' if KERNEL_NAMES else 'files'
        self.assertEqual(report['port_store'].split()[0], expected)



class InheritedAllocatorTest(EnvMixin, unittest.TestCase):
    """Allocators a forked child inherited: forgotten there, never released or listed."""

    def test_inherited_allocator_is_forgotten_not_released(self):
        store = _leases.MemoryStore(time.time)
        parent_pid = os.getpid() + 1  # stands for the parent this process was forked from
        alloc = _allocator.Allocator(random_range(4), 60.0, store, PLATFORM, pid=parent_pid)
        port = alloc.allocate(socket.AF_INET, socket.SOCK_STREAM, None, True, 'reserve_port')
        key = (parent_pid, None, 'inherited', None, None)
        self.addCleanup(_ports._state.pop, key, None)
        _ports._state[key] = alloc
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            _ports._release_at_exit({key: alloc})
        self.assertEqual(caught, [])  # the parent's reservation: not ours to list
        self.assertTrue(store.held('b%d' % (port // _allocator.BLOCK_SIZE)))
        lock = _ports._state_lock
        _ports._after_fork_in_child()
        self.assertIsNot(_ports._state_lock, lock)
        self.assertNotIn(key, _ports._state)
        self.assertTrue(store.held('b%d' % (port // _allocator.BLOCK_SIZE)))

    def test_detached_kernel_ports_from_the_environment(self):
        self.private_registry()
        self.set_env(allocator.RANGE_ENV_VAR, 'kernel')
        ports, keeper = _detached.lease_detached_ports(2, socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(keeper.give_back)
        self.assertEqual(len(set(ports)), 2)
        self.assertTrue(all(bindable(port) for port in ports))


class ConfigTest(EnvMixin, unittest.TestCase):

    def test_range_parses(self):
        self.assertEqual(_config.parse_range('20000-29999'), (20000, 29999))
        self.assertIsNone(_config.parse_range(' Kernel '))

    def test_bad_range_raises(self):
        for value in ('20000', '2-1', '0-10', '1-70000', 'a-b'):
            with self.assertRaises(ValueError) as cm:
                _config.parse_range(value)
            self.assertIn('TESTSUPPORT_PORT_RANGE is %r; expected LOW-HIGH' % value,
                          str(cm.exception))

    def test_bad_strategy_raises(self):
        with self.assertRaises(ValueError) as cm:
            _config.strategy({allocator.STRATEGY_ENV_VAR: 'random'})
        self.assertIn("TESTSUPPORT_PORT_STRATEGY is 'random'; use \"registry\"",
                      str(cm.exception))

    def test_default_range_per_platform(self):
        self.assertEqual(_config.default_range((32768, 60999)), (1024, 32767))
        self.assertEqual(_config.default_range((49152, 65535)), (1024, 49151))
        self.assertIsNone(_config.default_range((1024, 65535)))

    def test_range_overlapping_the_ephemeral_range_warns_once(self):
        low, high = PLATFORM.ephemeral_port_range()
        _leases._warned.clear()
        self.addCleanup(_leases._warned.clear)
        env = {allocator.RANGE_ENV_VAR: '%d-%d' % (low, low + 500)}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            _config.read_config(env, PLATFORM)
            _config.read_config(env, PLATFORM)
        self.assertEqual(len(caught), 1)
        self.assertIs(caught[0].category, allocator.PortRegistryWarning)
        self.assertIn('overlaps the OS ephemeral range', str(caught[0].message))


class EphemeralStrategyTest(EnvMixin, unittest.TestCase):

    def setUp(self):
        self.set_env(allocator.STRATEGY_ENV_VAR, 'ephemeral')

    def test_find_unused_port_binds_port_zero_and_closes(self):
        port = socket_helper.find_unused_port()
        self.assertTrue(bindable(port))

    def test_reserve_and_release_do_not_touch_the_allocators(self):
        before = dict(_ports._state)
        allocator.release_port(allocator.reserve_port())
        self.assertEqual(_ports._state, before)


# -- real processes ------------------------------------------------------------------

HOLDER = r'''
import sys
from testsupport import allocator
count = int(sys.argv[1])
ports = []
for _ in range(count):
    ports.append(allocator.reserve_port())
    sys.stdout.write('%d\n' % ports[-1])
    sys.stdout.flush()
sys.stdin.readline()
for port in ports:  # a clean exit: no PortRegistryWarning listing them
    allocator.release_port(port)
'''


def spawn_holder(count, env):
    """A process reserving *count* ports, printing them, then waiting for stdin."""
    env = dict(env, PYTHONPATH=ROOT)
    return subprocess.Popen([sys.executable, '-c', HOLDER, str(count)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, env=env, universal_newlines=True)


def stop(child):
    if child.returncode is None:
        try:
            child.stdin.write('\n')
            child.stdin.close()
        except (IOError, OSError):
            pass
        child.wait()
    child.stdout.close()
    if not child.stdin.closed:
        child.stdin.close()


class CrossProcessTest(EnvMixin, unittest.TestCase):
    """Real processes on one private registry, with the platform's store."""

    def setUp(self):
        self.private_registry()

    def test_four_processes_never_share_a_live_lease(self):
        self.set_env(allocator.RANGE_ENV_VAR, '%d-%d' % random_range(40))
        children = [spawn_holder(150, os.environ) for _ in range(4)]
        for child in children:
            self.addCleanup(stop, child)
        ports = []
        for child in children:
            ports.extend(int(child.stdout.readline()) for _ in range(150))
        self.assertEqual(len(set(ports)), 600)
        for child in children:
            stop(child)
            self.assertEqual(child.returncode, 0)

    def test_range_of_a_killed_process_is_reclaimed_at_once(self):
        low, high = random_range(1)
        self.set_env(allocator.RANGE_ENV_VAR, '%d-%d' % (low, high))
        child = spawn_holder(high - low + 1, os.environ)
        self.addCleanup(stop, child)
        ports = [int(child.stdout.readline()) for _ in range(high - low + 1)]
        self.assertEqual(sorted(ports), list(range(low, high + 1)))
        with self.assertRaises(allocator.NoFreePortError) as cm:
            allocator.reserve_port()
        self.assertIn('no free port in %d-%d: every port in it is leased by a live process or '
                      'bound (0 by this one)' % (low, high), str(cm.exception))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        with allocator.reserved_port() as port:
            self.assertTrue(low <= port <= high)

    @unittest.skipUnless(hasattr(os, 'fork'), 'needs fork()')
    def test_forked_child_does_not_reuse_the_parent_block(self):
        self.set_env(allocator.RANGE_ENV_VAR, '%d-%d' % random_range(8))
        parent_port = allocator.reserve_port()
        self.addCleanup(allocator.release_port, parent_port)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover (runs in the child)
            try:
                os.close(read_end)
                os.write(write_end, str(allocator.reserve_port()).encode('ascii'))
            finally:
                os._exit(0)
        os.close(write_end)
        with contextlib.closing(os.fdopen(read_end, 'rb')) as fp:
            child_port = int(fp.read())
        os.waitpid(pid, 0)
        self.assertNotEqual(child_port // 32, parent_port // 32)


class TwoUsersTest(EnvMixin, unittest.TestCase):
    """Ports collide per network namespace, not per user: two users never share a lease."""

    @skip_unless_root
    @requires_kernel_names
    def test_two_real_users_are_never_handed_the_same_port(self):
        from tests.test_leases import _fork_as, _make_user
        self.private_registry()  # the same kernel namespace for both users
        low = random_range(2)[0]
        self.set_env(allocator.RANGE_ENV_VAR, '%d-%d' % (low, low + 63))
        users = [_make_user(self), _make_user(self)]
        # The children drop to the new users, who cannot read root's interpreter
        # install: load what the allocator imports on first use while still root.
        for name in ('hashlib', 'random', 'tempfile'):
            __import__(name)

        def reserve_all():
            ports = []
            try:
                while True:
                    ports.append(allocator.reserve_port())
            except allocator.NoFreePortError:
                pass
            return ' '.join(str(p) for p in ports).encode('ascii')
        _pid, first = _fork_as(self, users[0][0], users[0][1], reserve_all)
        _pid, second = _fork_as(self, users[1][0], users[1][1], reserve_all)
        first, second = [set(int(p) for p in text.split()) for text in (first, second)]
        self.assertEqual(len(first), 64)  # the whole range: nothing left for the second
        self.assertEqual(first & second, set())


class ForkTest(EnvMixin, unittest.TestCase):

    @unittest.skipUnless(hasattr(os, 'register_at_fork'), 'needs os.register_at_fork (3.7+)')
    def test_fork_while_another_thread_creates_an_allocator(self):
        self.private_registry()
        _ports.current()  # the at-fork hook is in place once an allocator exists
        _ports._state_lock.acquire()  # as a thread creating an allocator right now
        try:
            pid = os.fork()
            if pid == 0:  # pragma: no cover (runs in the child)
                code = 1
                try:
                    allocator.reserve_port()
                    code = 0
                finally:
                    os._exit(code)
        finally:
            _ports._state_lock.release()
        deadline = time.time() + 20
        while time.time() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.01)  # polling a child with a deadline, not standing in for sync
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            self.fail('the forked child deadlocked on the allocator creation lock')
        self.assertEqual(status, 0)


NEVER_FAIL = r'''
import resource, socket, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (1024, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
from testsupport import socket_helper
count = int(sys.argv[1])
seen = set()
for i in range(count):
    port = socket_helper.find_unused_port()
    if i % 10 == 0 or i > count - 100:
        s = socket.socket()
        s.bind((socket_helper.HOST, port))  # every port binds
        s.close()
    seen.add(port)
print(len(seen))
'''


class NeverWorseThanCPythonTest(EnvMixin, unittest.TestCase):

    @unittest.skipUnless(os.name == 'posix', 'sets RLIMIT_NOFILE')
    def test_100000_find_unused_port_calls_under_ulimit_1024(self):
        self.private_registry()
        self.set_env(allocator.RANGE_ENV_VAR, '%d-%d' % random_range(64))
        env = dict(os.environ, PYTHONPATH=ROOT, PYTHONWARNINGS='ignore')
        env.pop('COVERAGE_PROCESS_START', None)  # traced, 100,000 calls take minutes
        output = subprocess.check_output([sys.executable, '-c', NEVER_FAIL, '100000'], env=env,
                                         universal_newlines=True)
        self.assertGreater(int(output), 2048)


if __name__ == '__main__':
    unittest.main()
