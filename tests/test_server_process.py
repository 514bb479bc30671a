"""Tests for server_process.start_server_process, its mixin method and its OS parts.

Real child servers (tests/child_server.py, ``python -m http.server 0``) on this
machine in each mode; macOS' lsof and Windows' GetExtendedTcpTable by
description, with fakes. Every test checks that nothing is left behind:
descriptors, child processes (zombies included), port leases.
"""
from __future__ import absolute_import, division, print_function

import errno
import os
import shutil
import signal
import socket
import struct
import sys
import tempfile
import unittest

from testsupport import (
    _compat,
    _port_tables,
    _system,
    _waits,
    mixin,
    platform_shim,
    server_process,
    servers,
)
from testsupport.platform_shim import LINUX, MACOS, WINDOWS

from . import helpers

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'child_server.py')
HTTP_SERVER = 'SimpleHTTPServer' if _compat.PY2 else 'http.server'
ON_LINUX = platform_shim.current().port_discovery == 'procfs'
needs_linux = unittest.skipUnless(ON_LINUX, 'reads /proc (the real-kernel tests run on Linux)')


def children():
    """Process ids of this process's children, zombies included (Linux)."""
    found = set()
    for tid in os.listdir('/proc/self/task'):
        with open('/proc/self/task/%s/children' % tid) as fp:
            found.update(int(pid) for pid in fp.read().split())
    return found


def gone(pid):
    """True once *pid* no longer runs (a zombie of another parent counts as gone)."""
    return not _system.process_alive(LINUX, pid)


def child(*args):
    return [sys.executable, CHILD] + list(args)


def exchange(address, request=b'', until=None):
    """Connect, send *request*, read until EOF (or a line ending *until*); the bytes."""
    sock = socket.create_connection(address, 10)
    try:
        sock.sendall(request)
        data = b''
        while until is None or not data.endswith(until):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        sock.close()
    return data


def greeting(server):
    return exchange(server.address, until=b'\n').decode('ascii')


class IsolatedMixin(helpers.FdLeakMixin):
    """A private port registry, and a check that no fd and no child outlives the test."""

    def setUp(self):
        helpers.private_registry(self)
        self.fds_before = helpers.open_fds()
        self.children_before = children()

    def assertNothingLeft(self):
        self.assertEqual(helpers.open_fds() - self.fds_before, set(), 'descriptors leaked')
        self.assertEqual(children() - self.children_before, set(), 'children (zombies?) left')

    def assertEnds(self, pid):
        # The grandchild is re-parented to init, which reaps it: poll, bounded.
        self.assertTrue(_waits.poll(lambda remaining: gone(pid), 10, _compat.monotonic,
                                      __import__('time').sleep), 'process %d still runs' % pid)


@needs_linux
class ModesTest(IsolatedMixin, unittest.TestCase):

    def run_server(self, argv, mode, **kwargs):
        server = server_process.start_server_process(argv, mode, **kwargs)
        try:
            text = greeting(server)
            out = server.stdout
        finally:
            status = server.stop()
        self.assertEqual(status, -signal.SIGTERM)
        self.assertNothingLeft()
        return server, text, out

    def test_inherit_hands_over_a_socket_on_fd_3(self):
        server, text, out = self.run_server(child('--listen-fds'), 'inherit')
        # child_server exits unless LISTEN_FDS=1 and LISTEN_PID is its own pid.
        self.assertEqual(text, 'hello %d\n' % server.pid)
        self.assertEqual(out, 'serving on port %d\n' % server.port)
        servers.wait_for_port_free(server.port, timeout=5)

    def test_discover_finds_the_port_the_child_bound(self):
        server, text, out = self.run_server(child('--port', '0'), 'discover')
        self.assertEqual(out, 'serving on port %d\n' % server.port)
        self.assertEqual(text, 'hello %d\n' % server.pid)

    def test_discover_finds_a_grandchild_and_stop_ends_it(self):
        server, text, out = self.run_server(child('--port', '0', '--in-grandchild'), 'discover')
        grandchild = int(text.split()[1])
        self.assertNotEqual(grandchild, server.pid)
        self.assertEnds(grandchild)

    def test_discover_http_server_on_port_0(self):
        # -u: 2.7's SimpleHTTPServer prints "Serving ... port N" into a buffer
        # that SIGTERM would discard.
        server = server_process.start_server_process([sys.executable, '-u', '-m', HTTP_SERVER, '0'],
                                              'discover', cwd=os.path.dirname(CHILD))
        try:
            data = exchange(server.address, b'GET /child_server.py HTTP/1.0\r\n\r\n')
        finally:
            server.stop()
        self.assertTrue(data.startswith(b'HTTP/1.0 200'), data[:100])
        self.assertIn(b'LISTEN_FDS', data)
        self.assertIn('port %d' % server.port, server.stdout + server.stderr)
        self.assertNothingLeft()

    def test_lease_substitutes_the_leased_port(self):
        from testsupport import _allocator
        server = server_process.start_server_process(child('--port', '{port}', '--host', '{host}'),
                                              'lease')
        self.assertIn(server.port, _allocator.current().unreleased())
        server.stop()
        server, text, out = self.run_server(child('--port', '{port}', '--host', '{host}'),
                                            'lease')
        self.assertEqual(server.argv[2:], ['--port', str(server.port), '--host', '127.0.0.1'])
        self.assertEqual(out, 'serving on port %d\n' % server.port)
        self.assertNotIn(server.port, _allocator.current().unreleased())  # released at stop()

    def test_context_manager_stops(self):
        with server_process.start_server_process(child('--listen-fds'), 'inherit') as server:
            host, port = server
            self.assertEqual((host, port), server.address)
        self.assertEqual(server.returncode, -signal.SIGTERM)
        self.assertEqual(server.stop(), -signal.SIGTERM)  # again: just the status
        self.assertNothingLeft()


@needs_linux
class FailuresTest(IsolatedMixin, unittest.TestCase):

    def start_fails(self, argv, mode, **kwargs):
        with self.assertRaises(server_process.ServerStartError) as cm:
            server_process.start_server_process(argv, mode, **kwargs)
        self.assertNothingLeft()
        return str(cm.exception)

    def test_exit_at_start_says_exited_with_stderr_tail(self):
        for mode, args in (('discover', ('--port', '0')), ('lease', ('--port', '{port}'))):
            message = self.start_fails(child('--exit-at-start', *args), mode)
            self.assertIn("start_server_process(mode=%r): the server exited with status 3 "
                          "before it" % mode, message)
            self.assertIn('child_server: cannot start: configuration is missing', message)

    def test_never_listens_says_running_with_stderr_tail(self):
        message = self.start_fails(child('--never-listen'), 'discover', timeout=0.5)
        self.assertIn("start_server_process(mode='discover'): the server is running but "
                      "never listened on a TCP port within 0.5 s", message)
        self.assertIn('child_server: waiting for a database that never comes', message)

    def test_lease_server_on_another_port_times_out(self):
        message = self.start_fails(child('--port', '0', '--ignore-term', '{port}'), 'lease',
                                   timeout=0.5, stop_timeout=0.5)
        self.assertIn('never accepted a connection at 127.0.0.1:', message)
        self.assertIn('at the port it is given', message)

    def test_missing_program(self):
        message = self.start_fails(['/nonexistent/server'], 'discover')
        self.assertIn("cannot run ['/nonexistent/server']", message)

    def test_missing_program_inherit_exits_127(self):
        server = server_process.start_server_process(['/nonexistent/server'], 'inherit')
        server._wait(10)
        self.assertEqual(server.stop(), 127)
        self.assertIn("cannot run '/nonexistent/server'", server.stderr)
        self.assertNothingLeft()

    def test_child_ignoring_sigterm_is_killed(self):
        server = server_process.start_server_process(child('--listen-fds', '--ignore-term'),
                                              'inherit', stop_timeout=0.3)
        self.assertIn('hello', greeting(server))
        self.assertEqual(server.stop(), -signal.SIGKILL)
        self.assertNothingLeft()

    def test_grandchild_ignoring_sigterm_is_killed(self):
        server = server_process.start_server_process(
            child('--port', '0', '--in-grandchild', '--ignore-term'), 'discover',
            stop_timeout=0.3)
        grandchild = int(greeting(server).split()[1])
        server.stop()
        self.assertEnds(grandchild)
        self.assertNothingLeft()


class ArgumentsTest(IsolatedMixin, unittest.TestCase):

    def check(self, error, text, *args, **kwargs):
        with self.assertRaises(error) as cm:
            server_process.start_server_process(*args, **kwargs)
        self.assertIn(text, str(cm.exception))
        self.assertEqual(helpers.open_fds() - self.fds_before, set())

    def test_bad_arguments(self):
        self.check(TypeError, 'argv must be a list of strings', 'python -m http.server')
        self.check(ValueError, 'argv is empty', [])
        self.check(TypeError, 'every argument must be a string, got int 0', ['x', 0])
        self.check(ValueError, "mode must be 'inherit', 'discover' or 'lease', got 'fd'",
                   ['x'], 'fd')
        self.check(ValueError, "no argument contains {port}", ['x', '--port'], 'lease')
        self.check(ValueError, "mode='discover'): argv contains {port}", ['x', '{port}'],
                   'discover')
        self.check(ValueError, 'descriptor 3 (LISTEN_FDS)', ['x', '{port}'], 'inherit')
        self.check(ValueError, 'family must be AF_INET or AF_INET6', ['x'], 'discover',
                   family=getattr(socket, 'AF_UNIX', 1))
        self.check(ValueError, 'timeout must be a finite number of seconds >= 0', ['x'], 'discover', timeout=-1)

    def test_inherit_on_windows_skips(self):
        with self.assertRaises(unittest.SkipTest) as cm:
            server_process._start_server_process(['x'], 'inherit', None, socket.AF_INET, None, None,
                                          None, 1, WINDOWS, None)
        self.assertIn("mode='inherit') needs a POSIX system", str(cm.exception))
        self.assertIn("on windows use mode='discover' or 'lease'", str(cm.exception))

    @needs_linux
    def test_discover_without_lsof_skips_and_cleans_up(self):
        with self.assertRaises(unittest.SkipTest) as cm:
            server_process._start_server_process(child('--port', '0'), 'discover', None,
                                          socket.AF_INET, None, None, 10, 1, MACOS,
                                          lambda pid: None)
        self.assertIn("cannot ask this system which ports a process listens on "
                      "(macos: is lsof installed?)", str(cm.exception))
        self.assertNothingLeft()


@needs_linux
class MixinTest(IsolatedMixin, unittest.TestCase):

    def test_cleanup_after_pass_fail_error(self):
        pids = []

        class Inner(mixin.SocketTestMixin, unittest.TestCase):
            def start(self):
                server = self.start_server_process(child('--listen-fds'))
                pids.append(server.pid)
                self.assertIn('hello', greeting(server))

            def test_pass(self):
                self.start()

            def test_fail(self):
                self.start()
                self.fail('boom')

            def test_error(self):
                self.start()
                raise RuntimeError('boom')

            def test_dies_at_start(self):
                self.start_server_process(child('--exit-at-start', '--port', '0'), 'discover')

        result = unittest.TestResult()
        unittest.defaultTestLoader.loadTestsFromTestCase(Inner).run(result)
        self.assertEqual((result.testsRun, len(result.failures), len(result.errors)), (4, 2, 1))
        failures = '\n'.join(text for _, text in result.failures)
        self.assertIn('the server exited with status 3', failures)
        self.assertEqual(len(pids), 3)
        for pid in pids:
            self.assertTrue(gone(pid))
        self.assertNothingLeft()


@needs_linux
class ListeningPortsLinuxTest(unittest.TestCase):

    def test_finds_own_listener(self):
        sock = servers.make_listener()
        self.addCleanup(sock.close)
        found = _port_tables.listening_ports(LINUX, os.getpid())
        self.assertIn(('127.0.0.1', sock.getsockname()[1]), found)


PROC_NET_TCP = '''\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0  0 111 1
   1: 0100007F:1F41 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  0  0 112 1
   2: 00000000:1F42 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0  0 999 1
'''
PROC_NET_TCP6 = '''\
  sl  local_address                         remote_address                        st
   0: 00000000000000000000000001000000:2328 00000000000000000000000000000000:0000 0A 0:0 0:0 0 0 0 113 1
'''


class FakeProc(object):
    """A /proc of two processes: 10 (the child), 11 (its child, same group) and 12."""

    files = {
        '/proc/net/tcp': PROC_NET_TCP, '/proc/net/tcp6': PROC_NET_TCP6,
        '/proc/10/stat': '10 (python) S 1 10 10 0', '/proc/11/stat': '11 (a b) S 10 10 10 0',
        '/proc/12/stat': '12 (other) S 1 12 12 0', '/proc/13/stat': '13 (daemon) S 1 10 10 0',
    }
    dirs = {'/proc': ['10', '11', '12', '13', 'net', 'self'], '/proc/10/fd': ['0', '3'],
            '/proc/11/fd': ['4', '5'], '/proc/12/fd': ['6'], '/proc/13/fd': []}
    links = {'/proc/10/fd/0': '/dev/null', '/proc/10/fd/3': 'socket:[111]',
             '/proc/11/fd/4': 'socket:[112]', '/proc/11/fd/5': 'socket:[113]',
             '/proc/12/fd/6': 'socket:[999]'}

    def read_file(self, path):
        return self.files.get(path)

    def list_dir(self, path):
        if path not in self.dirs:
            raise helpers_enoent()
        return self.dirs[path]

    def read_link(self, path):
        if path not in self.links:
            raise helpers_enoent()
        return self.links[path]


def helpers_enoent():
    return OSError(errno.ENOENT, 'No such file or directory')


class ListeningPortsDescribedTest(unittest.TestCase):

    def test_procfs_tree_and_group(self):
        proc = FakeProc()
        self.assertEqual(_system.process_tree(LINUX, 10, proc.read_file, proc.list_dir),
                         [10, 11, 13])

    def test_procfs_listeners_of_the_tree(self):
        proc = FakeProc()
        found = _port_tables.listening_ports(LINUX, 10, proc.read_file, proc.list_dir,
                                              proc.read_link)
        # 112 is an established connection, 999 belongs to another process.
        self.assertEqual(found, [('127.0.0.1', 8000), ('::1', 9000)])

    def test_lsof(self):
        calls = []

        def run(cmd):
            calls.append(cmd)
            return 0, 'p10\nf3\ntIPv4\nn127.0.0.1:8000\nf4\ntIPv6\nn*:9000\nf5\ntIPv6\nn[::1]:9001\n'
        self.assertEqual(_port_tables.listening_ports(MACOS, 10, run=run),
                         [('127.0.0.1', 8000), ('::', 9000), ('::1', 9001)])
        self.assertEqual(calls, [['lsof', '-a', '-g', '10', '-iTCP', '-sTCP:LISTEN', '-P', '-n',
                                  '-Ftn']])

    def test_lsof_nothing_and_missing(self):
        self.assertEqual(_port_tables.listening_ports(MACOS, 10, run=lambda cmd: (1, '')), [])
        self.assertIsNone(_port_tables.listening_ports(MACOS, 10, run=lambda cmd: (None, '')))
        self.assertEqual(_system.process_tree(MACOS, 10), [10])

    def windows_tables(self):
        v4 = [(2, socket.inet_aton('127.0.0.1'), 8000, 10), (2, socket.inet_aton('0.0.0.0'),
                                                             8001, 99)]
        raw4 = struct.pack('=I', len(v4)) + b''.join(
            struct.pack('=I', state) + addr + struct.pack('!H', port) + b'\0\0'
            + b'\0' * 8 + struct.pack('=I', pid) for state, addr, port, pid in v4)
        loop6 = b'\0' * 15 + b'\1'
        raw6 = struct.pack('=I', 1) + (loop6 + struct.pack('=I', 0) + struct.pack('!H', 9000)
                                       + b'\0\0' + b'\0' * 16 + struct.pack('=IIII', 0, 0, 2, 10))
        return {socket.AF_INET: raw4, 23: raw6}

    def test_windows_table(self):
        tables = self.windows_tables()
        self.assertEqual(_port_tables.listening_ports(WINDOWS, 10, tcp_table=tables.get),
                         [('127.0.0.1', 8000), ('::1', 9000)])
        self.assertIsNone(_port_tables.listening_ports(WINDOWS, 10,
                                                        tcp_table=lambda family: None))

    def test_windows_get_extended_tcp_table_grows_the_buffer(self):
        import ctypes
        raw = self.windows_tables()[socket.AF_INET]
        calls = []

        class FakeIphlpapi(object):
            def GetExtendedTcpTable(self, buf, size, order, family, table_class, reserved):
                calls.append((len(buf), family, table_class))
                if len(buf) < len(raw):
                    size.contents.value = len(raw)
                    return 122
                ctypes.memmove(buf, raw, len(raw))
                size.contents.value = len(raw)
                return 0
        self.assertEqual(_port_tables._windows_tcp_table(2, FakeIphlpapi()), raw)
        self.assertEqual(calls, [(4, 2, 3), (len(raw), 2, 3)])


class SignalGroupDescribedTest(unittest.TestCase):

    class FakeProcess(object):
        pid = 4321
        returncode = None

        def __init__(self):
            self.calls = []

        def poll(self):
            return self.returncode

        def terminate(self):
            self.calls.append('terminate')

        def kill(self):
            self.calls.append('kill')

    def test_posix_signals_the_group(self):
        calls = []
        process = self.FakeProcess()
        self.assertTrue(_system.signal_process_group(
            MACOS, process, False, killpg=lambda *a: calls.append(a)))
        self.assertTrue(_system.signal_process_group(
            MACOS, process, True, killpg=lambda *a: calls.append(a)))
        self.assertEqual(calls, [(4321, signal.SIGTERM), (4321, signal.SIGKILL)])

    def test_posix_group_gone(self):
        def killpg(pgid, sig):
            raise OSError(errno.ESRCH, 'No such process')
        self.assertFalse(_system.signal_process_group(LINUX, self.FakeProcess(), True,
                                                            killpg=killpg))

    def test_windows_terminates_the_process(self):
        process = self.FakeProcess()
        self.assertTrue(_system.signal_process_group(WINDOWS, process, False))
        self.assertTrue(_system.signal_process_group(WINDOWS, process, True))
        process.returncode = 1
        self.assertFalse(_system.signal_process_group(WINDOWS, process, True))
        self.assertEqual(process.calls, ['terminate', 'kill'])


FIXTURE_TESTS = '''
import os
import socket
import sys

import pytest

CHILD = %(child)r
PIDS = %(pids)r


def start(start_server_process, *args, **kwargs):
    server = start_server_process([sys.executable, CHILD] + list(args), **kwargs)
    with open(PIDS, 'a') as fp:
        fp.write('%%d\\n' %% server.pid)
    sock = socket.create_connection(server.address, 10)
    assert sock.recv(100).startswith(b'hello')
    sock.close()
    return server


def test_pass(start_server_process):
    start(start_server_process, '--listen-fds')
    start(start_server_process, '--port', '0', mode='discover')


def test_fail(start_server_process):
    start(start_server_process, '--port', '{port}', mode='lease')
    assert False, 'boom'


def test_error(start_server_process):
    start(start_server_process, '--listen-fds', '--ignore-term')
    raise RuntimeError('boom')


def test_dies_at_start(start_server_process):
    start(start_server_process, '--exit-at-start', '--port', '0', mode='discover')
'''


@needs_linux
class FixtureTest(IsolatedMixin, unittest.TestCase):

    def test_every_child_is_stopped_whatever_the_outcome(self):
        from .test_pytest_plugin import PytestRunMixin, needs_pytest, pytest
        if pytest is None:
            needs_pytest(lambda: None)()
        pids = os.path.join(tempfile.mkdtemp(prefix='procs-pids-'), 'pids')
        self.addCleanup(shutil.rmtree, os.path.dirname(pids), True)
        runner = PytestRunMixin()
        runner.addCleanup = self.addCleanup
        status, output = runner.run_pytest(
            {'test_servers.py': FIXTURE_TESTS % {'child': CHILD, 'pids': pids}})
        self.assertEqual(status, 1, output)
        self.assertIn('3 failed, 1 passed', output)
        self.assertIn('the server exited with status 3 before it listened', output)
        with open(pids) as fp:
            started = [int(line) for line in fp.read().split()]
        self.assertEqual(len(started), 4)
        for pid in started:
            self.assertEnds(pid)
