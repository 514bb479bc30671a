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
    _processes,
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
    return helpers.pid_gone(pid)


def shared_supervisors():
    """The pids of the process's shared supervisors (kept until it exits)."""
    from testsupport import _launcher
    return set(_launcher._shared().pids()) if _compat.HAS_SENDMSG else set()


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


def tagged(tag, supervisors=False):
    """Process ids whose command line contains *tag* (Linux), supervisors only if asked."""
    found = []
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open('/proc/%s/cmdline' % name, 'rb') as fp:
                words = fp.read().split(b'\0')
        except (IOError, OSError):
            continue
        if tag.encode('ascii') in words and (supervisors or not any(
                b'_supervisor.py' in word for word in words)):
            found.append(int(name))
    return [pid for pid in found if not gone(pid)]


def shared_library(fd):
    """True if *fd* is open on a shared library (PyPy loads libffi lazily, for good)."""
    try:
        target = os.readlink('/proc/self/fd/%s' % fd)
    except (IOError, OSError):
        return False
    return target.endswith('.so') or '.so.' in os.path.basename(target)


class IsolatedMixin(helpers.FdLeakMixin):
    """A private port registry and TMPDIR, and a check that no fd, no child and no
    log directory outlives the test."""

    def setUp(self):
        helpers.private_registry(self)
        self.tmpdir = helpers.private_tmpdir(self)
        helpers.set_env(self, 'TMPDIR', self.tmpdir)
        self.addCleanup(setattr, tempfile, 'tempdir', tempfile.tempdir)
        tempfile.tempdir = self.tmpdir
        self.fds_before = helpers.open_fds()
        self.children_before = children()
        self.tag = 'tsu-test-%d-%s' % (os.getpid(), id(self))

    def assertNothingLeft(self):
        self.assertEqual(set(fd for fd in helpers.open_fds() - self.fds_before
                             if not shared_library(fd)), set(), 'descriptors leaked')
        self.assertEqual(children() - self.children_before - shared_supervisors(), set(),
                         'children (zombies?) left')
        self.assertEqual([n for n in os.listdir(self.tmpdir)
                          if n.startswith('testsupport-server-')], [], 'log directories left')
        if ON_LINUX:
            self.assertEqual(tagged(self.tag, True), [], 'processes of the test left')

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
        from testsupport import _ports
        server = server_process.start_server_process(child('--port', '{port}', '--host', '{host}'),
                                              'lease')
        self.assertIn(server.port, _ports.current().unreleased())
        server.stop()
        server, text, out = self.run_server(child('--port', '{port}', '--host', '{host}'),
                                            'lease')
        self.assertEqual(server.argv[2:], ['--port', str(server.port), '--host', '127.0.0.1'])
        self.assertEqual(out, 'serving on port %d\n' % server.port)
        self.assertNotIn(server.port, _ports.current().unreleased())  # released at stop()

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
        # The tail shows what the server wrote before the timeout; a loaded machine
        # can start the child too late to write anything in 0.5 s: such a run says
        # nothing about the tail, and is tried again with a longer timeout.
        line = 'child_server: waiting for a database that never comes'
        for timeout in (0.5, 4.0, 16.0):
            message = self.start_fails(child('--never-listen'), 'discover', timeout=timeout)
            self.assertIn("start_server_process(mode='discover'): the server is running but "
                          "never listened on a TCP port within %.1f s" % timeout, message)
            if line in message:
                break
        self.assertIn(line, message)

    def test_lease_server_on_another_port_times_out(self):
        message = self.start_fails(child('--port', '0', '--ignore-term', '{port}'), 'lease',
                                   timeout=0.5, stop_timeout=0.5)
        self.assertIn('never accepted a connection at 127.0.0.1:', message)
        self.assertIn('at the port it is given', message)

    def test_missing_program_raises_in_every_mode(self):
        for mode in ('inherit', 'discover', 'lease'):
            argv = ['no-such-program'] + (['{port}'] if mode == 'lease' else [])
            start = _compat.monotonic()
            message = self.start_fails(argv, mode)
            self.assertLess(_compat.monotonic() - start, 5)
            self.assertIn("start_server_process(mode=%r): cannot run 'no-such-program': "
                          "[Errno %d] " % (mode, errno.ENOENT), message)
            self.assertIn('is it installed, on PATH, executable?', message)

    def test_program_not_executable_raises(self):
        path = os.path.join(self.tmpdir, 'not-executable')
        with open(path, 'w') as fp:
            fp.write('#!/bin/sh\n')
        message = self.start_fails([path], 'inherit')
        self.assertIn("cannot run %r: [Errno %d] " % (path, errno.EACCES), message)

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


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Run in a child python: starts a server, says its pids, then waits to be killed.
STARTER = """
import sys
sys.path.insert(0, %(root)r)
from testsupport import server_process
server = server_process.start_server_process(%(argv)r, %(mode)r)
import socket
sock = socket.create_connection(server.address, 10)
greeting = sock.recv(100).decode('ascii')
sock.close()
print('%%d %%s %%d' %% (server.pid, greeting.split()[1], server.port))
sys.stdout.flush()
sys.stdin.read()
"""

# Run in a child python: its peak memory (VmHWM) across a 200 MB stderr flood.
FLOODER = """
import json, socket, sys
sys.path.insert(0, %(root)r)
from testsupport import server_process

def peak():
    with open('/proc/self/status') as fp:
        for line in fp:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) * 1024

child = [sys.executable, %(child)r, '--flood', str(%(size)d)]
server = server_process.start_server_process(child + ['--listen-fds'], 'inherit')
base = peak()
sock = socket.create_connection(server.address, 60)  # answered once the flood is written
sock.recv(100)
sock.close()
running = server.stderr
server.stop()
stopped = server.stderr
try:
    server_process.start_server_process(child + ['--exit-at-start', '--port', '0'], 'discover',
                                        timeout=60)
except server_process.ServerStartError as exc:
    message = str(exc)
print(json.dumps({'grew': peak() - base, 'running': running[:200], 'running_len': len(running),
                  'stopped_len': len(stopped), 'stopped_end': stopped[-80:],
                  'message': message[:200] + message[-600:]}))
"""


def run_python(testcase, source, **kwargs):
    import subprocess
    process = subprocess.Popen([sys.executable, '-c', source], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, **kwargs)
    testcase.addCleanup(process.wait)
    testcase.addCleanup(process.stdin.close)
    testcase.addCleanup(process.stdout.close)
    testcase.addCleanup(lambda: process.poll() is None and process.kill())
    return process


def finish(process):
    """Close the pipes to a run_python() process and reap it."""
    process.stdin.close()
    process.stdout.close()
    return process.wait()


@needs_linux
class TreeTest(IsolatedMixin, unittest.TestCase):
    """The whole tree ends at stop() and when the test dies, daemons included."""

    def test_stop_ends_a_daemon_and_the_port_refuses(self):
        for extra in ([], ['--ignore-term']):
            server = server_process.start_server_process(
                child('--listen-fds', '--daemonize', '--tag', self.tag, *extra), 'inherit',
                stop_timeout=0.3)
            self.addCleanup(server.stop)
            daemon = int(greeting(server).split()[1])
            self.assertNotEqual(daemon, server.pid)
            self.assertEqual(tagged(self.tag), [daemon])
            server.stop()
            self.assertTrue(gone(daemon), 'the daemon %d survived stop()' % daemon)
            with self.assertRaises(socket.error) as cm:
                socket.create_connection(server.address, 5).close()
            self.assertEqual(cm.exception.errno, errno.ECONNREFUSED)
            self.assertNothingLeft()

    def test_discover_with_a_daemonizing_child_leaves_nothing(self):
        try:
            server = server_process.start_server_process(
                child('--port', '0', '--daemonize', '--tag', self.tag), 'discover')
        except server_process.ServerStartError as exc:
            # The usual outcome: the child exited (status 0) as it daemonised.
            self.assertIn('the server exited with status 0', str(exc))
        else:  # it was seen listening before its exit was
            server.stop()
        self.assertNothingLeft()

    def test_sigkill_of_the_test_ends_the_tree_within_1_s(self):
        argv = child('--listen-fds', '--daemonize', '--ignore-term', '--tag', self.tag)
        starter = run_python(self, STARTER % {'root': ROOT, 'argv': argv, 'mode': 'inherit'})
        line = starter.stdout.readline().decode('ascii')
        server, daemon, port = [int(word) for word in line.split()]
        self.assertEqual(tagged(self.tag), [daemon])
        self.assertEqual(os.listdir(self.tmpdir), [])  # the logs have no name
        os.kill(starter.pid, signal.SIGKILL)
        killed = _compat.monotonic()
        starter.wait()

        def everything_gone(remaining):
            return (gone(server) and gone(daemon) and not tagged(self.tag, True)
                    and not os.listdir(self.tmpdir))
        done = _waits.poll(everything_gone, 5, _compat.monotonic, __import__('time').sleep)
        elapsed = _compat.monotonic() - killed
        self.assertTrue(done, 'left: %r, %r' % (tagged(self.tag), os.listdir(self.tmpdir)))
        self.assertLess(elapsed, 1.0)
        with self.assertRaises(socket.error):
            socket.create_connection(('127.0.0.1', port), 5).close()
        finish(starter)
        self.assertNothingLeft()

    def test_sigkill_of_the_test_discover_and_lease(self):
        for mode, args in (('discover', ['--port', '0']), ('lease', ['--port', '{port}'])):
            argv = child('--tag', self.tag, '--in-grandchild', *args)
            starter = run_python(self, STARTER % {'root': ROOT, 'argv': argv, 'mode': mode})
            self.assertTrue(starter.stdout.readline())
            self.assertEqual(len(tagged(self.tag)), 2)
            os.kill(starter.pid, signal.SIGKILL)
            starter.wait()
            self.assertTrue(_waits.poll(
                lambda remaining: not tagged(self.tag, True) and not os.listdir(self.tmpdir), 1.0,
                _compat.monotonic, __import__('time').sleep), mode)
            finish(starter)
        self.assertNothingLeft()


@needs_linux
class OutputTest(IsolatedMixin, unittest.TestCase):

    def test_flood_of_200_mb_keeps_memory_and_tails_bounded(self):
        size = 200 << 20
        flooder = run_python(self, FLOODER % {'root': ROOT, 'child': CHILD, 'size': size})
        result = __import__('json').loads(flooder.stdout.read().decode('ascii'))
        self.assertEqual(finish(flooder), 0)
        self.assertLess(result['grew'], 16 << 20)
        cut = size - server_process._TAIL_BYTES
        self.assertTrue(result['running'].startswith('[... %d bytes cut ...]\nxxx' % cut),
                        result['running'][:80])
        self.assertLess(result['running_len'], server_process._TAIL_BYTES + 100)
        self.assertEqual(result['stopped_len'], result['running_len'])
        self.assertTrue(result['stopped_end'].endswith('x\n'))
        self.assertIn('the server exited with status 3', result['message'])
        self.assertIn('child_server: cannot start: configuration is missing', result['message'])
        self.assertNothingLeft()

    def test_short_output_is_whole_and_the_files_have_no_name(self):
        server = server_process.start_server_process(child('--listen-fds'), 'inherit')
        greeting(server)
        self.assertEqual(os.listdir(self.tmpdir), [])  # nothing to leave behind
        server.stop()
        self.assertEqual(server.stdout, 'serving on port %d\n' % server.port)
        self.assertEqual(os.listdir(self.tmpdir), [])
        self.assertNothingLeft()

    def test_read_tail_marks_the_cut(self):
        fp = tempfile.TemporaryFile()
        self.addCleanup(fp.close)
        fp.write(b'a' * 100 + b'tail')
        fp.flush()
        self.assertEqual(server_process._read_tail(fp.fileno(), 10),
                         '[... 94 bytes cut ...]\naaaaaatail')
        self.assertEqual(server_process._read_tail(fp.fileno(), 1000), 'a' * 100 + 'tail')
        self.assertEqual(server_process._read_tail(-1, 10), '')

    def test_reading_the_tail_does_not_move_the_writes(self):
        logs = server_process._open_logs(None)
        self.addCleanup(logs['stderr'].close)
        self.addCleanup(logs['stdout'].close)
        writer = os.dup(logs['stdout'].fileno())  # the child's copy: same description
        self.addCleanup(os.close, writer)
        os.write(writer, b'one\n')
        self.assertEqual(server_process._read_tail(logs['stdout'].fileno(), 2),
                         '[... 2 bytes cut ...]\ne\n')
        os.write(writer, b'two\n')
        self.assertEqual(server_process._read_tail(logs['stdout'].fileno(), 100), 'one\ntwo\n')

    def test_popen_path_reads_named_files_through_its_own_descriptors(self):
        logs = server_process._open_logs(self.tmpdir)
        self.addCleanup(logs['stderr'].close)
        self.addCleanup(logs['stdout'].close)
        with open(os.path.join(self.tmpdir, 'stderr.log'), 'ab') as fp:
            fp.write(b'oops\n')
        self.assertEqual(server_process._read_tail(logs['stderr'].fileno(), 100), 'oops\n')
        os.remove(os.path.join(self.tmpdir, 'stderr.log'))
        os.remove(os.path.join(self.tmpdir, 'stdout.log'))


class FakeDiscover(object):
    """``discover(pid)`` answering from a script of listener lists, one per call."""

    def __init__(self, *answers):
        self.answers = list(answers)

    def __call__(self, pid):
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@needs_linux
class DiscoverChoiceTest(IsolatedMixin, unittest.TestCase):

    def start(self, argv, discover, **kwargs):
        server = server_process._start_server_process(
            argv, 'discover', None, socket.AF_INET, None, None, kwargs.pop('timeout', 10), 1,
            platform_shim.current(), discover, **kwargs)
        self.addCleanup(server.stop)
        return server

    def test_the_port_listened_on_first_is_taken(self):
        server = server_process.start_server_process(child('--port', '0', '--admin-port'),
                                                     'discover')
        try:
            self.assertIn('hello', greeting(server))
            first = int(server.stdout.split()[3])
            self.assertEqual(server.port, first)
            self.assertTrue(_waits.poll(lambda remaining: 'admin on' in server.stdout, 10,
                                        _compat.monotonic, __import__('time').sleep))
        finally:
            server.stop()
        self.assertNothingLeft()

    def test_listeners_seen_together_raise_naming_them(self):
        with self.assertRaises(server_process.ServerStartError) as cm:
            self.start(child('--never-listen'),
                       FakeDiscover([], [('127.0.0.1', 5001), ('127.0.0.1', 4000)]))
        self.assertIn("start_server_process(mode='discover'): the server listens on "
                      "127.0.0.1:5001, 127.0.0.1:4000, which appeared together, so which it "
                      "opened first is unknown; pass choose_port=", str(cm.exception))
        self.assertNothingLeft()

    def test_the_first_seen_wins_not_the_lowest(self):
        with self.assertRaises(server_process.ServerStartError) as cm:
            self.start(child('--never-listen'),
                       FakeDiscover([('127.0.0.1', 5001)],
                                    [('127.0.0.1', 4000), ('127.0.0.1', 5001)]), timeout=0.2)
        self.assertIn('never accepted a connection at 127.0.0.1:5001', str(cm.exception))
        self.assertNothingLeft()

    def test_other_hosts_are_waited_past(self):
        with self.assertRaises(server_process.ServerStartError) as cm:
            self.start(child('--never-listen'),
                       FakeDiscover([('10.1.2.3', 5001)], [('10.1.2.3', 5001), ('::', 4000)]),
                       timeout=0.2)
        self.assertIn('never accepted a connection at 127.0.0.1:4000', str(cm.exception))
        self.assertNothingLeft()

    def test_choose_port_gets_the_listeners_in_order_seen(self):
        calls = []

        def choose(found):
            calls.append(found)
            return found[1][1] if len(found) > 1 else None
        with self.assertRaises(server_process.ServerStartError) as cm:
            self.start(child('--never-listen'),
                       FakeDiscover([('127.0.0.1', 5001)],
                                    [('127.0.0.1', 4000), ('127.0.0.1', 5001)]),
                       timeout=0.2, choose_port=choose)
        self.assertEqual(calls[:2], [[('127.0.0.1', 5001)],
                                     [('127.0.0.1', 5001), ('127.0.0.1', 4000)]])
        self.assertIn('never accepted a connection at 127.0.0.1:4000', str(cm.exception))
        self.assertNothingLeft()

    def test_choose_port_with_a_real_server(self):
        server = server_process.start_server_process(
            child('--port', '0'), 'discover', choose_port=lambda found: found[0][1])
        self.addCleanup(server.stop)
        self.assertIn('hello', greeting(server))

    def test_choose_port_only_for_discover(self):
        with self.assertRaises(ValueError) as cm:
            server_process.start_server_process(['x'], 'inherit', choose_port=max)
        self.assertIn("choose_port is for mode='discover'", str(cm.exception))


@needs_linux
class ContainmentTest(IsolatedMixin, unittest.TestCase):
    """The containment field chooses the launcher: a supervisor, or Popen (job_object)."""

    def run_with(self, platform, *args):
        server = server_process._start_server_process(
            child('--port', '{port}', *args), 'lease', None, socket.AF_INET, None, None, 10,
            0.3, platform, None)
        try:
            self.assertIn('hello %d' % server.pid, greeting(server))
        finally:
            status = server.stop()
        self.assertNothingLeft()
        return server, status

    def test_job_object_keeps_the_plain_popen_path(self):
        import subprocess
        server, status = self.run_with(LINUX.replace(process_containment='job_object'))
        self.assertTrue(isinstance(server.process, subprocess.Popen))
        self.assertEqual(status, -signal.SIGTERM)

    def test_process_group_runs_a_supervisor(self):
        server, status = self.run_with(LINUX.replace(process_containment='process_group'),
                                       '--ignore-term')
        self.assertEqual(server.process.containment, 'process_group')
        self.assertEqual(status, -signal.SIGKILL)

    def test_subreaper_on_linux(self):
        server, status = self.run_with(LINUX)
        self.assertEqual(server.process.containment, 'subreaper')
        self.assertEqual(status, -signal.SIGTERM)


class ReadinessTest(unittest.TestCase):

    def test_checks_every_millisecond(self):
        self.assertEqual(server_process._READY_STEP, 0.001)

    def test_listening_sockets_reads_only_the_tables(self):
        proc = FakeProc()
        self.assertEqual(_port_tables.listening_sockets(LINUX, proc.read_file),
                         {'111': ('127.0.0.1', 8000), '999': ('0.0.0.0', 8002),
                          '113': ('::1', 9000)})
        self.assertIsNone(_port_tables.listening_sockets(MACOS, proc.read_file))
        self.assertIsNone(_port_tables.listening_sockets(LINUX, lambda path: None))

    @needs_linux
    def test_listening_sockets_by_netlink_match_proc_net(self):
        sock = servers.make_listener()
        self.addCleanup(sock.close)
        by_netlink = _port_tables.listening_sockets(LINUX)
        by_proc = _port_tables.listening_sockets(LINUX, _system.read_text_file)
        self.assertIn(('127.0.0.1', sock.getsockname()[1]), by_netlink.values())
        mine = _port_tables.socket_inodes(os.getpid())
        self.assertEqual(set(by_netlink) & mine, set(by_proc) & mine)
        self.assertIn(str(os.fstat(sock.fileno()).st_ino), set(by_netlink) & mine)

    def test_socket_inodes(self):
        proc = FakeProc()
        self.assertEqual(_port_tables.socket_inodes(11, proc.list_dir, proc.read_link),
                         set(['112', '113']))
        self.assertEqual(_port_tables.socket_inodes(99, proc.list_dir, proc.read_link), set())


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
        self.assertEqual(_processes.process_tree(LINUX, 10, proc.read_file, proc.list_dir),
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
        self.assertEqual(_processes.process_tree(MACOS, 10), [10])

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
        self.assertTrue(_processes.signal_process_group(
            MACOS, process, False, killpg=lambda *a: calls.append(a)))
        self.assertTrue(_processes.signal_process_group(
            MACOS, process, True, killpg=lambda *a: calls.append(a)))
        self.assertEqual(calls, [(4321, signal.SIGTERM), (4321, signal.SIGKILL)])

    def test_posix_group_gone(self):
        def killpg(pgid, sig):
            raise OSError(errno.ESRCH, 'No such process')
        self.assertFalse(_processes.signal_process_group(LINUX, self.FakeProcess(), True,
                                                            killpg=killpg))

    def test_windows_terminates_the_process(self):
        process = self.FakeProcess()
        self.assertTrue(_processes.signal_process_group(WINDOWS, process, False))
        self.assertTrue(_processes.signal_process_group(WINDOWS, process, True))
        process.returncode = 1
        self.assertFalse(_processes.signal_process_group(WINDOWS, process, True))
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
