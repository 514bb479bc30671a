"""Tests for testsupport.allocator: leases, the cross-process registry, fall-backs."""
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
import unittest
import warnings

from testsupport import _compat, allocator, platform_shim, socket_helper
from tests.fakes import FakeClock
from tests.helpers import fd_count, set_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLATFORM = platform_shim.current()


def random_range(blocks=1):
    """A range of *blocks* whole blocks in the default candidate range, all bindable now.

    Other processes on this machine use the same range (and leave TIME_WAIT
    sockets), so the tests avoid blocks where a port is busy.
    """
    low, high = allocator._default_range(PLATFORM.ephemeral_port_range())
    for _attempt in range(100):
        first = random.randrange(low // allocator.BLOCK_SIZE + 1,
                                 high // allocator.BLOCK_SIZE - blocks)
        ports = range(first * allocator.BLOCK_SIZE, (first + blocks) * allocator.BLOCK_SIZE)
        if all(allocator._bind_error(socket.AF_INET, socket.SOCK_STREAM, socket_helper.HOST,
                                     port, PLATFORM, 'test') is None for port in ports):
            break
    return (ports[0], ports[-1])


class AllocatorTestCase(unittest.TestCase):
    """Helpers: a private registry directory and allocators on it, all cleaned up."""

    def registry_dir(self):
        base = tempfile.mkdtemp(prefix='tsu-alloc-')
        self.addCleanup(shutil.rmtree, base, True)
        return os.path.join(base, 'registry')

    def make_allocator(self, port_range, directory=None, clock=None, lease=60.0,
                       detached=False, pid=None):
        clock = clock or FakeClock()
        directory = directory or self.registry_dir()
        registry = allocator._open_registry(directory, PLATFORM, clock,
                                            os.getpid() if pid is None else pid, detached)
        alloc = allocator._Allocator(port_range, lease, registry, PLATFORM, clock=clock,
                                     detached=detached, pid=pid)
        self.addCleanup(alloc.close)
        return alloc

    def take(self, alloc, reserved=True, family=socket.AF_INET):
        return alloc.allocate(family, socket.SOCK_STREAM, None, reserved, 'reserve_port')

    def set_env(self, name, value):
        set_env(self, name, value)

    def catch_warnings(self):
        allocator._warned.clear()
        self.addCleanup(allocator._warned.clear)
        catcher = warnings.catch_warnings(record=True)
        caught = catcher.__enter__()
        self.addCleanup(catcher.__exit__, None, None, None)
        warnings.simplefilter('always')
        return caught

    def lease_files(self, directory):
        return sorted(n for n in os.listdir(directory) if n.endswith('.lease'))


class LeaseTest(AllocatorTestCase):

    def test_ports_are_distinct_in_range_and_bindable(self):
        port_range = random_range(4)
        alloc = self.make_allocator(port_range)
        ports = [self.take(alloc) for _ in range(100)]
        self.assertEqual(len(set(ports)), 100)
        for port in ports:
            self.assertTrue(port_range[0] <= port <= port_range[1])
        sock = socket.socket()
        self.addCleanup(sock.close)
        sock.bind((socket_helper.HOST, ports[-1]))

    def test_threads_never_share_a_lease(self):
        alloc = self.make_allocator(random_range(8))
        results = []

        def take_many():
            results.extend(self.take(alloc) for _ in range(50))
        threads = [threading.Thread(target=take_many) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(len(set(results)), 200)

    def test_one_registry_file_per_block(self):
        directory = self.registry_dir()
        alloc = self.make_allocator(random_range(4), directory)
        ports = [self.take(alloc) for _ in range(40)]
        blocks = sorted(set(p // allocator.BLOCK_SIZE * allocator.BLOCK_SIZE for p in ports))
        self.assertEqual(self.lease_files(directory), ['%d.lease' % b for b in blocks])

    def test_registry_directory_is_created_private(self):
        directory = self.registry_dir()
        alloc = self.make_allocator(random_range(), directory)
        self.take(alloc)
        self.assertEqual(os.stat(directory).st_mode & 0o777, 0o700)

    def test_released_port_is_handed_out_again(self):
        alloc = self.make_allocator(random_range(1))
        ports = [self.take(alloc) for _ in range(allocator.BLOCK_SIZE)]
        alloc.release(ports[5], 'release_port')
        self.assertEqual(self.take(alloc), ports[5])

    def test_release_after_expiry_is_fine(self):
        clock = FakeClock()
        alloc = self.make_allocator(random_range(1), clock=clock, lease=10)
        port = self.take(alloc)
        clock.now += 11
        self.take(alloc)  # reaps the expired lease
        alloc.release(port, 'release_port')
        alloc.release(port, 'release_port')

    def test_release_of_a_port_never_leased_raises(self):
        alloc = self.make_allocator(random_range(1))
        with self.assertRaises(ValueError) as cm:
            alloc.release(1, 'release_port')
        self.assertEqual(str(cm.exception),
                         'release_port(): port 1 is not leased by this process (pid %d); pass '
                         'a port that reserve_port() returned' % os.getpid())

    def test_lease_expires_after_lease_time(self):
        clock = FakeClock()
        alloc = self.make_allocator(random_range(1), clock=clock, lease=30)
        ports = [self.take(alloc) for _ in range(allocator.BLOCK_SIZE)]
        clock.now += 29.9
        self.assertRaises(allocator.NoFreePortError, self.take, alloc)
        clock.now += 0.2
        self.assertEqual(self.take(alloc), ports[0])

    def test_exhausted_range_raises_within_a_second(self):
        low, high = random_range(1)
        alloc = self.make_allocator((low, high))
        for _ in range(allocator.BLOCK_SIZE):
            self.take(alloc)
        before = fd_count()
        start = _compat.monotonic()
        with self.assertRaises(allocator.NoFreePortError) as cm:
            self.take(alloc)
        self.assertLess(_compat.monotonic() - start, 1.0)
        self.assertEqual(fd_count(), before)
        self.assertEqual(cm.exception.errno, PLATFORM.errnos['EADDRINUSE'])
        self.assertIsInstance(cm.exception, socket.error)
        self.assertIn('reserve_port(): no free port in %d-%d: every block of 32 ports in it is '
                      'held by a live process, 1 of them by this one, whose 32 ports are all '
                      'leased or in use (last bind error: none); widen TESTSUPPORT_PORT_RANGE, '
                      'release ports with release_port(), or run fewer workers' % (low, high),
                      str(cm.exception))

    def test_range_held_by_another_live_process_says_none_is_ours(self):
        low, high = random_range(1)
        directory = self.registry_dir()
        other = self.make_allocator((low, high), directory)  # this pid: alive
        self.take(other)
        mine = self.make_allocator((low, high), directory)
        with self.assertRaises(allocator.NoFreePortError) as cm:
            self.take(mine)
        self.assertIn('every block of 32 ports in it is held by a live process, none by this '
                      'one (last bind error: none)', str(cm.exception))

    def test_port_bound_by_an_outsider_is_skipped(self):
        low, high = random_range(1)
        outsider = socket.socket()
        self.addCleanup(outsider.close)
        outsider.bind((socket_helper.HOST, low))
        alloc = self.make_allocator((low, high))
        ports = [self.take(alloc) for _ in range(allocator.BLOCK_SIZE - 1)]
        self.assertNotIn(low, ports)
        with self.assertRaises(allocator.NoFreePortError) as cm:
            self.take(alloc)
        self.assertIn('(last bind error: [Errno %d]' % PLATFORM.errnos['EADDRINUSE'], str(cm.exception))

    def test_udp_and_ipv6_ports(self):
        alloc = self.make_allocator(random_range(1))
        udp = alloc.allocate(socket.AF_INET, socket.SOCK_DGRAM, None, True, 'reserve_port')
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind((socket_helper.HOST, udp))
        if socket_helper.IPV6_ENABLED:
            port6 = self.take(alloc, family=socket.AF_INET6)
            sock6 = socket.socket(socket.AF_INET6)
            self.addCleanup(sock6.close)
            sock6.bind((socket_helper.HOSTv6, port6))

    def test_kernel_ports_are_registered(self):
        directory = self.registry_dir()
        alloc = self.make_allocator(None, directory)
        ports = [self.take(alloc) for _ in range(10)]
        self.assertEqual(len(set(ports)), 10)
        low, high = PLATFORM.ephemeral_port_range()
        for port in ports:
            self.assertTrue(low <= port <= high)
            self.assertIn('%d.lease' % (port // 32 * 32), self.lease_files(directory))


class CrossProcessTest(AllocatorTestCase):

    def test_expired_block_of_another_owner_is_taken_over(self):
        clock = FakeClock()
        directory = self.registry_dir()
        port_range = random_range(1)
        cli = self.make_allocator(port_range, directory, clock, lease=30, detached=True)
        self.take(cli, reserved=False)
        other = self.make_allocator(port_range, directory, clock, lease=30)
        self.assertRaises(allocator.NoFreePortError, self.take, other)
        clock.now += 31
        self.assertTrue(port_range[0] <= self.take(other) <= port_range[1])

    def test_owner_losing_its_expired_block_stops_using_it(self):
        clock = FakeClock()
        directory = self.registry_dir()
        port_range = random_range(1)
        first = self.make_allocator(port_range, directory, clock, lease=30, detached=True)
        port = self.take(first, reserved=False)
        clock.now += 31
        second = self.make_allocator(port_range, directory, clock, lease=30)
        taken = set(self.take(second) for _ in range(allocator.BLOCK_SIZE))
        self.assertIn(port, taken)
        self.assertRaises(allocator.NoFreePortError, self.take, first)

    def test_block_of_a_live_process_is_not_taken(self):
        directory = self.registry_dir()
        port_range = random_range(1)
        self.make_allocator(port_range, directory, pid=os.getppid()).allocate(
            socket.AF_INET, socket.SOCK_STREAM, None, True, 'reserve_port')
        other = self.make_allocator(port_range, directory)
        self.assertRaises(allocator.NoFreePortError, self.take, other)

    def test_block_of_a_killed_process_is_reclaimed(self):
        directory = self.registry_dir()
        low, high = random_range(1)
        child = spawn_holder(directory, low, high, count=1)
        self.addCleanup(stop, child)
        port = int(child.stdout.readline())
        self.assertTrue(low <= port <= high)
        alloc = self.make_allocator((low, high), directory, clock=None)
        self.assertRaises(allocator.NoFreePortError, self.take, alloc)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        self.assertTrue(low <= self.take(alloc) <= high)

    def test_old_corrupt_entry_is_ignored_and_repaired(self):
        directory = self.registry_dir()
        low, high = random_range(1)
        alloc = self.make_allocator((low, high), directory, clock=FakeClock(2000000000.0))
        path = os.path.join(directory, '%d.lease' % low)
        with open(path, 'w') as fp:
            fp.write('\x00garbage')
        os.utime(path, (1000, 1000))
        self.take(alloc)
        with open(path) as fp:
            fields = fp.read().split()
        self.assertEqual(fields[0], str(os.getpid()))
        self.assertEqual(len(fields), 5)

    def test_fresh_corrupt_entry_may_be_a_file_being_written(self):
        directory = self.registry_dir()
        low, high = random_range(1)
        alloc = self.make_allocator((low, high), directory, clock=FakeClock(1000.0))
        path = os.path.join(directory, '%d.lease' % low)
        with open(path, 'w') as fp:
            fp.write('')
        os.utime(path, (995, 995))
        self.assertRaises(allocator.NoFreePortError, self.take, alloc)

    def test_close_removes_this_process_blocks(self):
        directory = self.registry_dir()
        alloc = self.make_allocator(random_range(2), directory)
        for _ in range(40):
            self.take(alloc)
        alloc.close()
        self.assertEqual(self.lease_files(directory), [])

    def test_close_keeps_detached_leases(self):
        directory = self.registry_dir()
        alloc = self.make_allocator(random_range(1), directory, detached=True)
        self.take(alloc, reserved=False)
        alloc.close()
        self.assertEqual(len(self.lease_files(directory)), 1)

    def test_four_processes_never_share_a_live_lease(self):
        directory = self.registry_dir()
        low, high = random_range(40)
        children = [spawn_holder(directory, low, high, count=150) for _ in range(4)]
        for child in children:
            self.addCleanup(stop, child)
        ports = []
        for child in children:
            lines = [child.stdout.readline() for _ in range(150)]
            ports.extend(int(line) for line in lines)
        self.assertEqual(len(ports), 600)
        self.assertEqual(len(set(ports)), 600)
        for child in children:
            stop(child)
            self.assertEqual(child.returncode, 0)
        self.assertEqual(self.lease_files(directory), [])

    @unittest.skipUnless(hasattr(os, 'fork'), 'needs fork()')
    def test_forked_child_does_not_reuse_the_parent_block(self):
        directory = self.registry_dir()
        self.set_env(allocator.REGISTRY_ENV_VAR, directory)
        self.set_env(allocator.RANGE_ENV_VAR, '%d-%d' % random_range(8))
        parent_port = _reserve()
        self.addCleanup(allocator.release_port, parent_port)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover (runs in the child)
            try:
                os.close(read_end)
                os.write(write_end, str(_reserve()).encode('ascii'))
            finally:
                os._exit(0)
        os.close(write_end)
        with contextlib.closing(os.fdopen(read_end, 'rb')) as fp:
            child_port = int(fp.read())
        os.waitpid(pid, 0)
        self.assertNotEqual(child_port // 32, parent_port // 32)


def _reserve():
    return allocator.reserve_port()


HOLDER = r'''
import sys
from testsupport import allocator, platform_shim
directory, low, high, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
platform = platform_shim.current()
registry = allocator._open_registry(directory, platform, allocator.time.time,
                                    allocator.os.getpid(), False)
alloc = allocator._Allocator((low, high), 60.0, registry, platform)
for _ in range(count):
    sys.stdout.write('%d\n' % alloc.allocate(2, 1, None, True, 'reserve_port'))
    sys.stdout.flush()
sys.stdin.readline()
alloc.close()
'''


def spawn_holder(directory, low, high, count):
    """A process leasing *count* ports in *low*-*high*, printing them, then waiting for stdin."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.Popen([sys.executable, '-c', HOLDER, directory, str(low), str(high),
                             str(count)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            env=env, universal_newlines=True)


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


class RegistryFallbackTest(AllocatorTestCase):

    def check_fallback(self, directory, expected):
        caught = self.catch_warnings()
        alloc = self.make_allocator(random_range(1), directory)
        first, second = self.take(alloc), self.take(alloc)
        self.assertNotEqual(first, second)
        self.assertIsInstance(alloc.registry, allocator._MemoryRegistry)
        self.make_allocator(random_range(1), directory)
        messages = [str(w.message) for w in caught if w.category is allocator.PortRegistryWarning]
        self.assertEqual(messages, [expected])

    @unittest.skipUnless(platform_shim.user_id() == 0, 'chown needs root')
    def test_directory_owned_by_another_user(self):
        directory = self.registry_dir()
        os.mkdir(directory, 0o700)
        os.chown(directory, 12345, -1)
        self.check_fallback(directory, (
            'testsupport: not using the port registry %r: it is owned by uid 12345, not by '
            'you (uid 0); leases are kept in this process only, so other processes may be '
            'handed the same ports: remove it or set TESTSUPPORT_PORT_REGISTRY to a directory '
            'only you can write' % directory))

    def test_world_writable_directory(self):
        directory = self.registry_dir()
        os.mkdir(directory)
        os.chmod(directory, 0o777)
        self.check_fallback(directory, (
            'testsupport: not using the port registry %r: it is writable by group or others '
            '(mode 0777); leases are kept in this process only, so other processes may be '
            'handed the same ports: remove it or set TESTSUPPORT_PORT_REGISTRY to a directory '
            'only you can write' % directory))

    def test_unwritable_location(self):
        base = self.registry_dir()
        os.mkdir(base)
        blocker = os.path.join(base, 'a-file')
        with open(blocker, 'w'):
            pass
        directory = os.path.join(blocker, 'registry')
        caught = self.catch_warnings()
        self.check_fallback_prefix(directory, caught, (
            'testsupport: cannot create the port registry %r (' % directory,
            '); leases are kept in this process only, so other processes may be handed the '
            'same ports: set TESTSUPPORT_PORT_REGISTRY to a writable directory'))

    def check_fallback_prefix(self, directory, caught, parts):
        alloc = self.make_allocator(random_range(1), directory)
        self.take(alloc)
        self.make_allocator(random_range(1), directory)
        messages = [str(w.message) for w in caught if w.category is allocator.PortRegistryWarning]
        self.assertEqual(len(messages), 1)
        self.assertTrue(messages[0].startswith(parts[0]), messages[0])
        self.assertTrue(messages[0].endswith(parts[1]), messages[0])

    def test_full_disk_falls_back_with_one_warning(self):
        directory = self.registry_dir()
        caught = self.catch_warnings()
        alloc = self.make_allocator(random_range(2), directory)
        self.take(alloc)

        def full(*args):
            raise OSError(errno.ENOSPC, 'No space left on device')
        alloc.registry._open = full
        before = fd_count()
        ports = set(self.take(alloc) for _ in range(40))
        self.assertEqual(len(ports), 40)
        self.assertEqual(fd_count(), before)
        messages = [str(w.message) for w in caught if w.category is allocator.PortRegistryWarning]
        self.assertEqual(messages, [
            'testsupport: cannot write to the port registry %r ([Errno %d] No space left on '
            'device); leases are kept in this process only, so other processes may be handed '
            'the same ports: free some space or set TESTSUPPORT_PORT_REGISTRY to a writable '
            'directory' % (directory, errno.ENOSPC)])


class ConfigTest(unittest.TestCase):

    def test_range_parses(self):
        self.assertEqual(allocator._parse_range('20000-29999'), (20000, 29999))
        self.assertEqual(allocator._parse_range(' kernel '), None)

    def test_bad_range_raises(self):
        for value in ('30000', '2-1', '0-10', 'a-b', '1-70000'):
            with self.assertRaises(ValueError) as cm:
                allocator._parse_range(value)
            self.assertEqual(str(cm.exception),
                             'TESTSUPPORT_PORT_RANGE is %r; expected LOW-HIGH with 1 <= LOW <= '
                             'HIGH <= 65535, e.g. 20000-29999, or "kernel" for kernel-assigned '
                             'ports' % value)

    def test_bad_lease_raises(self):
        for value in ('0', '-1', 'soon'):
            with self.assertRaises(ValueError) as cm:
                allocator._parse_lease(value)
            self.assertEqual(str(cm.exception), 'TESTSUPPORT_PORT_LEASE is %r; expected a '
                             'number of seconds greater than 0, e.g. 60' % value)
        self.assertEqual(allocator._parse_lease('2.5'), 2.5)

    def test_bad_strategy_raises(self):
        with self.assertRaises(ValueError) as cm:
            allocator._strategy({'TESTSUPPORT_PORT_STRATEGY': 'magic'})
        self.assertEqual(str(cm.exception),
                         'TESTSUPPORT_PORT_STRATEGY is \'magic\'; use "registry" (the default: '
                         'leased ports) or "ephemeral" (CPython\'s behaviour: bind port 0, '
                         'close, return)')
        self.assertEqual(allocator._strategy({}), 'registry')

    def test_range_overlapping_the_ephemeral_range_warns_once(self):
        platform = platform_shim.LINUX.replace(ephemeral_source='fixed')  # 32768-60999
        allocator._warned.clear()
        self.addCleanup(allocator._warned.clear)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            for _ in range(2):
                config = allocator._config({allocator.RANGE_ENV_VAR: '40000-40010'}, platform)
            allocator._config({allocator.RANGE_ENV_VAR: '20000-29999'}, platform)
        self.assertEqual(config.port_range, (40000, 40010))
        self.assertEqual([str(w.message) for w in caught], [
            'TESTSUPPORT_PORT_RANGE is 40000-40010, which overlaps the OS ephemeral range '
            '32768-60999: the kernel may give those ports to outgoing connections and to '
            'bind(port 0) callers, which no registry keeps off; choose ports outside it'])
        self.assertTrue(issubclass(caught[0].category, allocator.PortRegistryWarning))

    def test_default_range_per_platform(self):
        ranges = {}
        for platform in (platform_shim.LINUX, platform_shim.MACOS, platform_shim.FREEBSD,
                         platform_shim.WINDOWS):
            ranges[platform.name] = allocator._default_range(platform.ephemeral_default)
        self.assertEqual(ranges, {'linux': (1024, 32767), 'macos': (1024, 49151),
                                  'freebsd': (1024, 9999), 'windows': (1024, 49151)})

    def test_tiny_range_means_kernel_ports(self):
        self.assertIsNone(allocator._default_range((1100, 65535)))
        self.assertEqual(allocator._default_range((1024, 60000)), (60001, 65535))

    def test_config_from_environment(self):
        config = allocator._config({'TESTSUPPORT_PORT_RANGE': '20000-20999',
                                    'TESTSUPPORT_PORT_REGISTRY': '/some/where',
                                    'TESTSUPPORT_PORT_LEASE': '5'}, PLATFORM)
        self.assertEqual(config, ((20000, 20999), '/some/where', 5.0))


class PublicApiTest(AllocatorTestCase):

    def setUp(self):
        self.directory = self.registry_dir()
        self.set_env(allocator.REGISTRY_ENV_VAR, self.directory)
        self.set_env(allocator.RANGE_ENV_VAR, '%d-%d' % random_range(4))
        self.addCleanup(self.close_current)

    def close_current(self):
        for key in list(allocator._state):
            if key[2] == self.directory:
                allocator._state.pop(key).close()

    def test_reserve_and_release(self):
        port = allocator.reserve_port()
        sock = socket.socket()
        self.addCleanup(sock.close)
        sock.bind((socket_helper.HOST, port))
        allocator.release_port(port)
        self.assertIn('%d.lease' % (port // 32 * 32), self.lease_files(self.directory))
        self.assertNotIn(port, allocator._current()._leases)

    def test_release_of_a_non_int_raises_type_error(self):
        with self.assertRaises(TypeError) as cm:
            allocator.release_port('8080')
        self.assertEqual(str(cm.exception), "release_port(): port must be an int that "
                                            "reserve_port() returned, got str '8080'")

    def test_unresolvable_host_names_caller_and_host(self):
        with self.assertRaises(socket.gaierror) as cm:
            allocator.reserve_port(socket.AF_INET, socket.SOCK_STREAM, '::1')
        self.assertIn("reserve_port(): cannot resolve host '::1' for AF_INET: ",
                      str(cm.exception))
        self.assertIn("'::1' is an IPv6 address and the socket is AF_INET", str(cm.exception))

    def test_reserved_port_releases_on_exit(self):
        with allocator.reserved_port(socket.AF_INET, socket.SOCK_DGRAM) as port:
            self.assertIn(port, allocator._current()._leases)
        self.assertNotIn(port, allocator._current()._leases)

    def test_find_unused_port_leases_from_the_range(self):
        low, high = allocator._parse_range(os.environ[allocator.RANGE_ENV_VAR])
        ports = [socket_helper.find_unused_port() for _ in range(50)]
        self.assertEqual(len(set(ports)), 50)
        self.assertTrue(all(low <= p <= high for p in ports))

    def test_reserve_port_rejects_af_unix(self):
        with self.assertRaises(ValueError) as cm:
            allocator.reserve_port(PLATFORM.af_unix)
        self.assertIn('reserve_port(): AF_UNIX has no ports', str(cm.exception))

    def test_unreleased_reservations_are_listed_at_exit(self):
        port = allocator.reserve_port()
        caught = self.catch_warnings()
        key = [k for k in allocator._state if k[2] == self.directory][0]
        allocator._release_at_exit({key: allocator._state.pop(key)})
        self.assertEqual([str(w.message) for w in caught], [
            'testsupport: 1 port(s) reserved with reserve_port() were never released: %d; '
            'call release_port() or use reserved_port()' % port])


class EphemeralStrategyTest(AllocatorTestCase):

    def setUp(self):
        self.directory = self.registry_dir()
        self.set_env(allocator.REGISTRY_ENV_VAR, self.directory)
        self.set_env(allocator.STRATEGY_ENV_VAR, 'ephemeral')

    def test_find_unused_port_binds_port_zero_and_closes(self):
        low, high = PLATFORM.ephemeral_port_range()
        before = fd_count()
        port = socket_helper.find_unused_port()
        self.assertEqual(fd_count(), before)
        self.assertTrue(low <= port <= high)
        self.assertFalse(os.path.exists(self.directory))
        sock = socket.socket()
        self.addCleanup(sock.close)
        sock.bind((socket_helper.HOST, port))

    def test_find_unused_port_checks_family_as_cpython_does(self):
        with self.assertRaises(ValueError) as cm:
            socket_helper.find_unused_port(PLATFORM.af_unix)
        self.assertIn('find_unused_port(): AF_UNIX has no ports', str(cm.exception))

    def test_reserve_and_release_do_not_touch_the_registry(self):
        with allocator.reserved_port() as port:
            self.assertTrue(0 < port <= 65535)
        allocator.release_port(1)
        self.assertFalse(os.path.exists(self.directory))


if __name__ == '__main__':
    unittest.main()
