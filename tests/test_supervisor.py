"""Tests for testsupport._supervisor: a server's tree ends with its test, daemons included.

Real processes on Linux (containment 'subreaper', and 'process_group' as macOS
and the BSDs use it, run here for real); the command line by description for
every containment. Each test checks what it leaves: descriptors, processes, files.
"""
from __future__ import absolute_import, division, print_function

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from testsupport import _compat, _launcher, _supervisor, _system, platform_shim

from . import helpers

ON_LINUX = platform_shim.current().port_discovery == 'procfs'
needs_linux = unittest.skipUnless(ON_LINUX, 'reads /proc (the real-kernel tests run on Linux)')
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A server that listens on the inherited fd 3 (or sleeps) and, given a directory,
# starts a daemon (double fork + setsid) that writes its pid to <dir>/daemon.pid.
SERVER = r'''
import os, sys, time
args = sys.argv[1:]
if args and args[0] == 'ignore-term':
    import signal
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    args = args[1:]
if args:
    if os.fork() == 0:
        os.setsid()
        if os.fork():
            os._exit(0)
        tmp = os.path.join(args[0], 'daemon.tmp')
        with open(tmp, 'w') as fp:
            fp.write(str(os.getpid()))
        os.rename(tmp, os.path.join(args[0], 'daemon.pid'))
        time.sleep(60)
        os._exit(0)
time.sleep(60)
'''

# A server that ignores SIGTERM, starts a daemon (double fork + setsid, SIGTERM
# ignored too) that writes its pid to <argv[1]>/daemon.pid, and exits.
DAEMONIZER = r'''
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
if os.fork() == 0:
    os.setsid()
    if os.fork():
        os._exit(0)
    tmp = os.path.join(sys.argv[1], 'daemon.tmp')
    with open(tmp, 'w') as fp:
        fp.write(str(os.getpid()))
    os.rename(tmp, os.path.join(sys.argv[1], 'daemon.pid'))
    time.sleep(60)
    os._exit(0)
'''

# The "test process" that gets SIGKILLed: starts a server under a supervisor,
# prints what it started as one JSON line, then waits to be killed.
KILLED_TEST = r'''
import json, os, socket, sys, time
sys.path.insert(0, sys.argv[1])
from testsupport import _launcher
log_dir, server = sys.argv[2], sys.argv[3]
listener = socket.socket()
listener.bind(('127.0.0.1', 0))
listener.listen(5)
port = listener.getsockname()[1]
with open(os.path.join(log_dir, 'stderr.log'), 'ab') as err:
    process = _launcher.start([sys.executable, '-c', server, log_dir], 'subreaper',
                                listen_fd=listener.fileno(), stderr=err, remove=[log_dir])
listener.close()
daemon = os.path.join(log_dir, 'daemon.pid')
deadline = time.time() + 30
while not os.path.exists(daemon) and time.time() < deadline:
    time.sleep(0.002)
with open(daemon) as fp:
    daemon_pid = int(fp.read())
zygote = getattr(process.supervisor, 'zygote_pid', process.supervisor.pid)
print(json.dumps({'server': process.pid, 'supervisor': process.supervisor.pid,
                  'zygote': zygote, 'daemon': daemon_pid, 'port': port}))
sys.stdout.flush()
time.sleep(60)
'''


def gone(pid):
    """True once *pid* no longer exists (a zombie still exists: nobody reaped it)."""
    return not os.path.exists('/proc/%d' % pid)


def ended(pid):
    """True once *pid* is gone or a zombie (the supervisor's parent, init here, reaps it)."""
    try:
        with open('/proc/%d/stat' % pid) as fp:
            return fp.read().rsplit(')', 1)[1].split()[0] == 'Z'
    except (IOError, OSError):
        return True


def parent_of(pid):
    with open('/proc/%d/stat' % pid) as fp:
        return int(fp.read().rsplit(')', 1)[1].split()[1])


def ignores_sigterm(pid):
    """True once process *pid* has SIGTERM set to SIG_IGN (its SigIgn mask in /proc)."""
    try:
        with open('/proc/%d/status' % pid) as fp:
            for line in fp:
                if line.startswith('SigIgn:'):
                    return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    except (IOError, OSError):
        pass
    return False


def wait_until(predicate, timeout):
    """Poll *predicate* every millisecond until true or *timeout* s; return the time taken
    (None on timeout)."""
    start = _compat.monotonic()
    while _compat.monotonic() - start < timeout:
        if predicate():
            return _compat.monotonic() - start
        time.sleep(0.001)
    return None


def refuses(port):
    sock = socket.socket()
    try:
        sock.connect(('127.0.0.1', port))
    except socket.error:
        return True
    finally:
        sock.close()
    return False


def kill_quietly(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def read_pid_file(path, timeout=30):
    wait_until(lambda: os.path.exists(path), timeout)
    with open(path) as fp:
        return int(fp.read())


class SupervisorTestCase(unittest.TestCase):
    """Start servers with a temp dir and descriptor check; stop what a test leaves."""

    containment = 'subreaper'
    #: _launcher._start(shared=...): None the process's shared supervisor where
    #: Python has one (3.x), False a per-server supervisor (always so on 2.7).
    shared = None

    def setUp(self):
        self.fds_before = helpers.open_fds()
        self.dir = tempfile.mkdtemp(prefix='tsu-supervisor-test-')
        self.addCleanup(shutil.rmtree, self.dir, True)

    def start(self, args=(), **kwargs):
        kwargs.setdefault('containment', self.containment)
        kwargs.setdefault('shared', self.shared)
        argv = kwargs.pop('argv', None) or [sys.executable, '-c', SERVER] + list(args)
        process = _launcher._start(argv, **kwargs)
        self.addCleanup(process.stop, 0)
        return process

    def assertNoFdLeak(self):
        shared = [_launcher._shared()] if _compat.HAS_SENDMSG else []
        if self.shared:
            shared.append(self.shared)
        kept = set(str(fd) for each in shared for fd in each.fds())  # until the process ends
        self.assertEqual(helpers.open_fds() - self.fds_before - kept, set())


@needs_linux
class ParentKilledTest(SupervisorTestCase):

    def test_sigkill_of_the_test_ends_server_and_daemon_within_1s(self):
        self.check_sigkill(SERVER)

    def test_sigkill_with_news_unread_ends_a_daemon_ignoring_sigterm(self):
        # the server exits: the test is killed with 'exit 0' unread (ECONNRESET for the
        # shared supervisor's keeper), and the daemon needs SIGKILL
        self.check_sigkill(DAEMONIZER, lambda started: gone(started['server']))

    def check_sigkill(self, server, before_kill=None):
        log_dir = tempfile.mkdtemp(prefix='testsupport-server-', dir=self.dir)
        test = subprocess.Popen([sys.executable, '-c', KILLED_TEST, ROOT, log_dir, server],
                                stdout=subprocess.PIPE)
        self.addCleanup(test.wait)
        self.addCleanup(test.stdout.close)
        self.addCleanup(kill_quietly, test.pid)
        started = json.loads(test.stdout.readline().decode('ascii'))
        for name in ('server', 'supervisor', 'zygote', 'daemon'):
            self.addCleanup(kill_quietly, started[name])
        self.assertFalse(refuses(started['port']))
        if before_kill is not None:
            self.assertIsNotNone(wait_until(lambda: before_kill(started), 10))
        os.kill(test.pid, signal.SIGKILL)
        test.wait()
        took = wait_until(lambda: gone(started['server']) and gone(started['daemon'])
                          and ended(started['supervisor']) and ended(started['zygote']), 1.0)
        self.assertIsNotNone(took, 'still there 1 s after SIGKILL: %r' % (started,))
        self.assertFalse(os.path.exists(log_dir))
        self.assertTrue(refuses(started['port']))


@needs_linux
class StopTest(SupervisorTestCase):

    def test_stop_ends_a_daemon_that_left_the_session(self):
        process = self.start([self.dir])
        daemon = read_pid_file(os.path.join(self.dir, 'daemon.pid'))
        self.addCleanup(kill_quietly, daemon)
        # the subreaper adopts it once the middle process has exited
        self.assertIsNotNone(wait_until(
            lambda: parent_of(daemon) == process.supervisor.pid, 10))
        self.assertEqual(process.stop(2.0), -signal.SIGTERM)
        self.assertTrue(gone(daemon))
        self.assertTrue(gone(process.pid))
        self.assertIsNotNone(process.supervisor.returncode)
        self.assertNoFdLeak()

    def test_a_server_ignoring_sigterm_is_killed_after_the_timeout(self):
        process = self.start(['ignore-term'])
        self.assertIsNotNone(wait_until(lambda: ignores_sigterm(process.pid), 30))
        started = _compat.monotonic()
        self.assertEqual(process.stop(0.3), -signal.SIGKILL)
        took = _compat.monotonic() - started
        self.assertTrue(0.3 <= took < 2.0, took)
        self.assertTrue(gone(process.pid))

    def test_stop_is_idempotent_and_removes_the_paths(self):
        path = os.path.join(self.dir, 'logs')
        os.mkdir(path)
        with open(os.path.join(path, 'stderr.log'), 'w') as fp:
            fp.write('x')
        process = self.start(remove=[path])
        self.assertEqual(process.stop(), -signal.SIGTERM)
        self.assertEqual(process.stop(), -signal.SIGTERM)
        self.assertFalse(os.path.exists(path))
        self.assertNoFdLeak()

    def test_stop_keeps_the_paths_when_asked(self):
        path = os.path.join(self.dir, 'logs')
        os.mkdir(path)
        process = self.start(remove=[path])
        process.stop(remove=False)
        self.assertTrue(os.path.isdir(path))

    def test_context_manager_stops(self):
        with self.start() as process:
            self.assertIsNone(process.poll())
        self.assertTrue(gone(process.pid))


@needs_linux
class StartTest(SupervisorTestCase):

    def test_missing_program_raises_enoent_at_once(self):
        started = _compat.monotonic()
        with self.assertRaises(OSError) as cm:
            self.start(argv=['no-such-program', '--flag'])
        self.assertTrue(_compat.monotonic() - started < 5.0)
        self.assertEqual(cm.exception.errno, errno.ENOENT)
        self.assertEqual(cm.exception.filename, 'no-such-program')
        self.assertIn('No such file or directory', str(cm.exception))
        self.assertIn('no-such-program', str(cm.exception))
        self.assertNoFdLeak()

    def test_non_executable_file_raises_eacces(self):
        path = os.path.join(self.dir, 'not-executable')
        with open(path, 'w') as fp:
            fp.write('#!/bin/sh\n')
        if _system.user_id() == 0:
            os.chmod(path, 0o644)  # root may execute only what has an x bit
        with self.assertRaises(OSError) as cm:
            self.start(argv=[path])
        self.assertEqual(cm.exception.errno, errno.EACCES)

    def test_early_exit_status_is_reported(self):
        process = self.start(argv=['sh', '-c', 'exit 3'])
        self.assertEqual(process.wait(10), 3)
        self.assertEqual(process.poll(), 3)
        self.assertEqual(process.stop(), 3)

    def test_status_pipe_is_readable_when_the_server_exits(self):
        import select
        process = self.start(argv=['sh', '-c', 'kill -9 $$'])
        process.poll()  # first: start() may have read the news already
        if process.returncode is None:
            self.assertEqual(select.select([process], [], [], 10)[0], [process])
        self.assertEqual(process.poll(), -signal.SIGKILL)

    def test_wait_times_out_while_running(self):
        process = self.start()
        self.assertIsNone(process.wait(0.01))
        self.assertIsNone(process.returncode)

    def test_listen_pid_is_the_servers_pid(self):
        listener = helpers.new_socket(self)
        listener.bind(('127.0.0.1', 0))
        listener.listen(5)
        bound = listener.getsockname()[1]
        out = os.path.join(self.dir, 'env')
        code = ('import os, socket, json\n'
                'fds = []\n'
                'for f in os.listdir("/proc/self/fd"):\n'
                '    try:\n'
                '        fds.append([int(f), os.readlink("/proc/self/fd/" + f)])\n'
                '    except OSError:\n'
                '        pass\n'  # listdir's own descriptor
                's = socket.fromfd(3, socket.AF_INET, socket.SOCK_STREAM)\n'
                'info = [os.environ.get("LISTEN_PID"), os.environ.get("LISTEN_FDS"), '
                's.getsockname()[1], fds]\n'
                's.close()\n'
                'open(%r, "w").write(json.dumps(info))\n' % out)
        process = self.start(argv=[sys.executable, '-c', code], listen_fd=listener.fileno())
        listener.close()
        self.assertEqual(process.wait(30), 0)
        with open(out) as fp:
            pid, count, port, fds = json.loads(fp.read())
        self.assertEqual((pid, count), (str(process.pid), '1'))
        self.assertEqual(port, bound)
        # Nothing of the supervisor's (its pipes and sockets) beyond fd 3. The
        # interpreter's own start-up may open files (2.7: /dev/urandom; PyPy: its
        # shared library): those are the server's, not inherited.
        self.assertEqual([(fd, target) for fd, target in fds if fd > 3
                          and target.startswith(('pipe:', 'socket:', 'anon_inode:'))], [])

    def test_environment_is_passed_without_additions(self):
        out = os.path.join(self.dir, 'env')
        env = {'PATH': os.environ.get('PATH', '/usr/bin:/bin'), 'LANG': 'C', 'MARK': 'x'}
        process = self.start(argv=['sh', '-c', 'env > %s' % out], env=env)
        self.assertEqual(process.wait(30), 0)
        with open(out) as fp:
            names = set(line.split('=', 1)[0] for line in fp.read().splitlines())
        self.assertEqual(names - set(['PWD', 'SHLVL', '_']), set(['PATH', 'LANG', 'MARK']))

    def test_supervisor_says_what_it_is(self):
        process = self.start(shared=False)
        with open('/proc/%d/cmdline' % process.supervisor.pid, 'rb') as fp:
            cmdline = fp.read().split(b'\0')
        self.assertTrue(os.path.basename(cmdline[3]).startswith(b'_supervisor.'), cmdline)
        self.assertIn(b'-R', cmdline)
        self.assertIn(b'-P', cmdline)  # the main thread started it

    def test_no_parent_death_signal_from_another_thread(self):
        found = []
        thread = threading.Thread(target=lambda: found.append(self.start(shared=False)))
        thread.start()
        thread.join()
        process = found[0]
        self.assertIsNone(process.poll())  # the thread's end did not stop it
        with open('/proc/%d/cmdline' % process.supervisor.pid, 'rb') as fp:
            self.assertNotIn(b'-P', fp.read().split(b'\0'))


@needs_linux
class ProcessGroupTest(SupervisorTestCase):
    """containment='process_group' (macOS, the BSDs), run here on the real kernel."""

    containment = 'process_group'

    def test_stop_ends_the_group(self):
        process = self.start(argv=['sh', '-c', 'sleep 60 & sleep 60 & wait'])
        self.assertEqual(process.stop(2.0), -signal.SIGTERM)
        self.assertTrue(wait_until(lambda: not group_exists(process.pid), 2.0) is not None)
        self.assertNoFdLeak()

    def test_a_daemon_that_left_the_group_is_not_covered(self):
        process = self.start([self.dir])
        daemon = read_pid_file(os.path.join(self.dir, 'daemon.pid'))
        self.addCleanup(kill_quietly, daemon)
        process.stop(2.0)
        self.assertFalse(gone(daemon))  # the documented gap: setsid() escapes killpg()

    def test_no_linux_flags(self):
        process = self.start(shared=False)
        with open('/proc/%d/cmdline' % process.supervisor.pid, 'rb') as fp:
            cmdline = fp.read().split(b'\0')
        self.assertNotIn(b'-R', cmdline)
        self.assertNotIn(b'-P', cmdline)


class PerServerStopTest(StopTest):
    """StopTest with a per-server supervisor (2.7's path, and PIPE streams on 3.x)."""

    shared = False


class PerServerStartTest(StartTest):

    shared = False


class PerServerProcessGroupTest(ProcessGroupTest):

    shared = False


def private_shared(test):
    """A _Shared of the test's own (not the process's), closed at cleanup."""
    shared = _launcher._Shared()
    test.addCleanup(shared.close)
    return shared


# A server that writes what it was given (LISTEN_PID, LISTEN_FDS, fd 3's port) to
# argv[1] (atomically), then sleeps.
REPORTER = r'''
import json, os, socket, sys, time
s = socket.fromfd(3, socket.AF_INET, socket.SOCK_STREAM)
info = [os.environ.get("LISTEN_PID"), os.environ.get("LISTEN_FDS"), s.getsockname()[1]]
s.close()
with open(sys.argv[1] + ".tmp", "w") as fp:
    fp.write(json.dumps(info))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(60)
'''


@needs_linux
@unittest.skipUnless(_compat.HAS_SENDMSG, 'no socket.sendmsg(): 2.7 has per-server '
                     'supervisors only (PerServer* tests)')
class SharedSupervisorTest(SupervisorTestCase):
    """One shared supervisor per process forks a per-server supervisor for each server."""

    def setUp(self):
        super(SharedSupervisorTest, self).setUp()
        self.shared = private_shared(self)

    def listener(self):
        sock = helpers.new_socket(self)
        sock.bind(('127.0.0.1', 0))
        sock.listen(5)
        return sock

    def test_one_shared_supervisor_is_the_parent_of_each_servers_supervisor(self):
        first, second = self.start(), self.start()
        zygotes = self.shared.pids()
        self.assertEqual(len(zygotes), 1)
        self.assertEqual(parent_of(zygotes[0]), os.getpid())
        for process in (first, second):
            self.assertEqual(parent_of(process.pid), process.supervisor.pid)
            self.assertEqual(parent_of(process.supervisor.pid), zygotes[0])
            self.assertEqual(process.supervisor.zygote_pid, zygotes[0])
        with open('/proc/%d/cmdline' % zygotes[0], 'rb') as fp:
            cmdline = fp.read().split(b'\0')
        self.assertTrue(os.path.basename(cmdline[3]).startswith(b'_supervisor.'), cmdline)
        self.assertEqual(cmdline[4], b'-Z')
        self.assertIn(b'-R', cmdline)
        self.assertIn(b'-P', cmdline)  # the main thread started it

    def test_the_shared_supervisor_holds_no_descriptor_of_the_test(self):
        self.start()
        zygote = self.shared.pids()[0]
        fds = sorted(int(fd) for fd in os.listdir('/proc/%d/fd' % zygote))
        for fd in (0, 1, 2):
            self.assertEqual(os.readlink('/proc/%d/fd/%d' % (zygote, fd)), os.devnull)
        kinds = sorted(os.readlink('/proc/%d/fd/%d' % (zygote, fd)).split(':')[0]
                       for fd in fds[3:])
        kinds = [kind for kind in kinds if '.so' not in kind]  # libffi's own .so
        self.assertEqual(kinds, ['pipe'] * 4 + ['socket'])  # signal and 'taken' pipes, socket
        ours = set(inode('/proc/self/fd/%s' % fd) for fd in helpers.open_fds())
        theirs = set(inode('/proc/%d/fd/%d' % (zygote, fd)) for fd in fds[3:]
                     if not shared_library('/proc/%d/fd/%d' % (zygote, fd)))
        self.assertEqual(ours & theirs - set([None]), set())

    def test_two_threads_start_servers_at_once(self):
        listeners = [self.listener() for _ in range(4)]
        found, errors = {}, []
        go = threading.Event()

        def run(index):
            go.wait()
            try:
                out = os.path.join(self.dir, 'info-%d' % index)
                found[index] = (self.start(argv=[sys.executable, '-c', REPORTER, out],
                                           listen_fd=listeners[index].fileno()), out)
            except Exception as exc:  # reported below
                errors.append(exc)
        threads = [threading.Thread(target=run, args=(index,)) for index in range(4)]
        for thread in threads:
            thread.start()
        go.set()
        for thread in threads:
            thread.join()
        self.assertEqual(errors, [])
        self.assertEqual(len(self.shared.pids()), 1)
        for index, (process, out) in sorted(found.items()):
            listen_pid, count, port = json.loads(open_when_there(out))
            self.assertEqual((listen_pid, count), (str(process.pid), '1'))
            self.assertEqual(port, listeners[index].getsockname()[1])
        self.assertEqual(len(set(p.supervisor.pid for p, _ in found.values())), 4)
        for process, _ in found.values():
            self.assertEqual(process.stop(), -signal.SIGTERM)

    def test_stopping_one_server_leaves_the_other_running(self):
        listeners = [self.listener() for _ in range(2)]
        processes = []
        for listener in listeners:
            processes.append(self.start(argv=[sys.executable, '-c', ACCEPT],
                                        listen_fd=listener.fileno()))
        ports = [listener.getsockname()[1] for listener in listeners]
        for listener in listeners:
            listener.close()
        self.assertEqual(processes[0].stop(), -signal.SIGTERM)
        self.assertTrue(gone(processes[0].pid))
        self.assertTrue(refuses(ports[0]))
        self.assertIsNone(processes[1].poll())
        self.assertFalse(refuses(ports[1]))
        self.assertFalse(ended(processes[1].supervisor.pid))
        self.assertEqual(processes[1].stop(), -signal.SIGTERM)
        self.assertTrue(refuses(ports[1]))
        self.assertNoFdLeak()

    def test_a_forked_child_starts_its_own_shared_supervisor(self):
        self.check_fork(self.shared)  # found by the pid check

    def test_a_forked_child_of_the_default_starts_its_own(self):
        self.check_fork(None)  # reset after fork where Python can (3.7+), else the pid check

    def check_fork(self, shared):
        first = self.start(shared=shared)
        zygote = first.supervisor.zygote_pid
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: start, check and stop a server of its own
            try:
                os.close(read_end)
                child = _launcher._start([sys.executable, '-c', SERVER], 'subreaper',
                                           shared=shared)
                info = {'me': os.getpid(), 'zygote': child.supervisor.zygote_pid,
                        'zygote_parent': parent_of(child.supervisor.zygote_pid),
                        'keeper_parent': parent_of(child.supervisor.pid),
                        'status': child.stop()}
                os.write(write_end, json.dumps(info).encode('ascii'))
            finally:
                os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end, 'rb') as fp:
            text = fp.read().decode('ascii')
        os.waitpid(pid, 0)
        info = json.loads(text)
        self.assertNotEqual(info['zygote'], zygote)
        self.assertEqual(info['zygote_parent'], info['me'])
        self.assertEqual(info['keeper_parent'], info['zygote'])
        self.assertEqual(info['status'], -signal.SIGTERM)
        self.assertIsNotNone(wait_until(lambda: ended(info['zygote']), 1.0))
        # the parent's shared supervisor is untouched and still serves
        self.assertIsNone(first.poll())
        again = self.start(shared=shared)
        self.assertEqual(again.supervisor.zygote_pid, zygote)
        self.assertEqual(first.stop(), -signal.SIGTERM)
        self.assertEqual(again.stop(), -signal.SIGTERM)

    def test_started_from_another_thread_it_has_no_parent_death_signal(self):
        found = []
        thread = threading.Thread(target=lambda: found.append(self.start()))
        thread.start()
        thread.join()
        self.assertIsNone(found[0].poll())  # the thread's end did not stop it
        with open('/proc/%d/cmdline' % found[0].supervisor.zygote_pid, 'rb') as fp:
            self.assertNotIn(b'-P', fp.read().split(b'\0'))
        # an explicit request it cannot meet gets a per-server supervisor
        process = self.start(parent_death_signal=True)
        self.assertIsInstance(process.supervisor, subprocess.Popen)

    def test_pipe_streams_get_a_per_server_supervisor(self):
        process = self.start(stdout=subprocess.PIPE)
        self.addCleanup(process.supervisor.stdout.close)
        self.assertIsInstance(process.supervisor, subprocess.Popen)
        self.assertEqual(self.shared.pids(), [])

    def test_close_ends_every_server_as_the_tests_death_would(self):
        process = self.start([self.dir])
        daemon = read_pid_file(os.path.join(self.dir, 'daemon.pid'))
        self.addCleanup(kill_quietly, daemon)
        zygote = self.shared.pids()[0]
        self.shared.close()
        self.assertTrue(ended(zygote))
        self.assertIsNotNone(wait_until(lambda: gone(process.pid) and gone(daemon), 1.0))

    def test_a_killed_shared_supervisor_is_replaced(self):
        process = self.start()
        zygote = self.shared.pids()[0]
        os.kill(zygote, signal.SIGKILL)
        # its per-server supervisors get SIGTERM (parent-death signal): servers end
        self.assertIsNotNone(wait_until(lambda: gone(process.pid), 2.0))
        self.assertEqual(process.wait(5), -signal.SIGTERM)
        again = self.start()
        self.assertNotEqual(again.supervisor.zygote_pid, zygote)
        self.assertIsNone(again.poll())

    def test_cwd_and_environment_are_the_servers(self):
        out = os.path.join(self.dir, 'out')
        os.mkdir(os.path.join(self.dir, 'sub'))
        env = {'PATH': os.environ.get('PATH', '/usr/bin:/bin'), 'MARK': 'x'}
        process = self.start(argv=['sh', '-c', 'pwd > %s; env >> %s' % (out, out)],
                             env=env, cwd=os.path.join(self.dir, 'sub'))
        self.assertEqual(process.wait(30), 0)
        with open(out) as fp:
            lines = fp.read().splitlines()
        self.assertEqual(os.path.realpath(lines[0]),
                         os.path.realpath(os.path.join(self.dir, 'sub')))
        names = set(line.split('=', 1)[0] for line in lines[1:])
        self.assertEqual(names - set(['PWD', 'SHLVL', '_']), set(['PATH', 'MARK']))

    def test_a_missing_cwd_raises_naming_it(self):
        missing = os.path.join(self.dir, 'missing')
        with self.assertRaises(OSError) as cm:
            self.start(argv=['true'], cwd=missing)
        self.assertEqual(cm.exception.errno, errno.ENOENT)
        self.assertEqual(cm.exception.filename, missing)
        self.assertNoFdLeak()


# A server that accepts connections on fd 3 (so a connect() is answered).
ACCEPT = r'''
import socket
s = socket.fromfd(3, socket.AF_INET, socket.SOCK_STREAM)
while True:
    s.accept()[0].close()
'''


def shared_library(path):
    """True if the descriptor *path* is a shared library the interpreter opened itself
    (libffi on 3.15 and PyPy keeps its .so open)."""
    try:
        return '.so' in os.path.basename(os.readlink(path))
    except OSError:
        return False


def inode(path):
    try:
        found = os.stat(path)
    except OSError:  # closed meanwhile (listdir's own descriptor)
        return None
    return found.st_dev, found.st_ino


def open_when_there(path):
    wait_until(lambda: os.path.exists(path), 30)
    with open(path) as fp:
        return fp.read()


def group_exists(pgid):
    try:
        os.killpg(pgid, 0)
    except OSError:
        return False
    return True


class CommandTest(unittest.TestCase):
    """The command line by description, for every containment."""

    def test_subreaper_flags(self):
        command = _launcher.supervisor_command(
            ['srv', '-x'], 'subreaper', 5, 6, listen_fd=7, remove=['/tmp/d'], parent_pid=42,
            unset=['LC_CTYPE'], executable='/py')
        self.assertEqual(command[:3], ['/py', '-E', _launcher._site_flag()])
        self.assertTrue(os.path.basename(command[3]).startswith('_supervisor.'))
        self.assertEqual(command[4:], ['-l', '5', '-s', '6', '-f', '7', '-R', '-P', '42',
                                       '-r', '/tmp/d', '-u', 'LC_CTYPE', '--', 'srv', '-x'])

    def test_process_group_has_no_linux_flags(self):
        command = _launcher.supervisor_command(['srv'], 'process_group', 5, 6)
        self.assertEqual(command[4:], ['-l', '5', '-s', '6', '--', 'srv'])

    def test_unknown_containment(self):
        with self.assertRaises(ValueError) as cm:
            _launcher.supervisor_command(['srv'], 'cgroup', 5, 6)
        self.assertEqual(str(cm.exception),
                         "supervisor_command(): containment must be one of 'subreaper', "
                         "'process_group', 'job_object', got 'cgroup'")

    def test_job_object_is_not_implemented(self):
        with self.assertRaises(NotImplementedError) as cm:
            _launcher.start(['srv'], 'job_object')
        self.assertIn('JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE', str(cm.exception))

    def test_parse_reads_what_the_command_says(self):
        command = _launcher.supervisor_command(
            ['srv', '--', '-R'], 'subreaper', 5, 6, listen_fd=7, remove=['/a', '/b'],
            parent_pid=42, unset=['LC_CTYPE'])
        opts, argv = _supervisor._parse(command[4:])
        self.assertEqual(argv, ['srv', '--', '-R'])
        self.assertEqual(opts, {'life': 5, 'status': 6, 'listen': 7, 'subreaper': True,
                                'parent': 42, 'remove': ['/a', '/b'], 'unset': ['LC_CTYPE']})


if __name__ == '__main__':
    unittest.main()
