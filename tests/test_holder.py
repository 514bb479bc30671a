"""The CLI's detached lease holder (testsupport._holder): Keeper and the holder process."""
from __future__ import absolute_import, division, print_function

import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
import unittest
import warnings

from testsupport import _holder, _leases, _processes
from tests.helpers import private_registry, run_main, set_env
from tests.test_leases import (
    DEADLINE,
    PLATFORM,
    FailingLock,
    _fork_as,
    _gone,
    _holders,
    _kill_holders,
    _make_user,
    _namespace,
    _reap,
    _temp_dir,
    _wait_until,
    skip_unless_kernel_names,
    skip_unless_root,
)


@skip_unless_kernel_names
class KeeperTest(unittest.TestCase):

    def setUp(self):
        self.store = _leases.KernelStore(PLATFORM, _namespace())
        self.addCleanup(_kill_holders, self.store)

    def hold(self, names, until):
        handles = [self.store.acquire(name, until, detached=True) for name in names]
        self.assertNotIn(None, handles)
        keeper = _holder.Keeper(self.store, handles, until)
        keeper.hold()
        self.assertEqual(keeper.handles, [])
        return handles

    def test_holder_keeps_names_until_released(self):
        self.hold(['p1', 'p2'], time.time() + 600)
        # Our copies are closed: the holder alone keeps the names now.
        holders = _holders(self.store)
        self.assertEqual(len(holders), 1, holders)
        self.assertTrue(self.store.held('p1'))
        self.assertTrue(self.store.held('p2'))
        self.assertTrue(self.store.release_detached('p1'))
        self.assertFalse(self.store.held('p1'))
        self.assertTrue(self.store.held('p2'))
        self.assertFalse(self.store.release_detached('p1'))  # already free
        self.assertTrue(self.store.request_release('p2'))
        self.assertFalse(self.store.held('p2'))
        pid = holders.pop()
        _wait_until(lambda: _gone(pid), 'exited once nothing is held')

    def test_holder_exits_at_until(self):
        # Held and running until *until*, free and gone after it. Starting the
        # holder (a new interpreter) can take longer than the window on a loaded
        # machine: a run that could not look before *until* proves nothing, and
        # is tried again with a longer window.
        for window in (1.0, 4.0, 16.0):
            until = time.time() + window
            self.hold(['p3'], until)
            holders = _holders(self.store)
            held = self.store.held('p3')
            if time.time() < until:
                break
            _wait_until(lambda: not self.store.held('p3'), 'free at the expiry',
                        DEADLINE + window)
            _kill_holders(self.store)
        self.assertEqual(len(holders), 1, holders)
        (pid,) = holders
        self.assertTrue(held)
        _wait_until(lambda: not self.store.held('p3'), 'free at the expiry', DEADLINE + window)
        self.assertGreaterEqual(time.time(), until)  # not before it
        _wait_until(lambda: _gone(pid), 'exited at the expiry')

    def test_a_holder_is_nobodys_zombie(self):
        # Keeper.hold() waits for the process it started; the holder runs on
        # beyond it, so no "subprocess still running" ResourceWarning either.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            self.hold(['p4'], time.time() + 600)
            import gc
            gc.collect()
        self.assertEqual([str(w.message) for w in caught], [])
        (pid,) = _holders(self.store)
        with open('/proc/%d/stat' % pid) as f:
            ppid = int(f.read().rsplit(')', 1)[1].split()[1])
        self.assertNotEqual(ppid, os.getpid())

    def test_silent_clients_do_not_stall_the_holder(self):
        # Connections that never send (a stuck or hostile process of the same
        # user) used to hold the holder 1 s each: a release behind five of
        # them timed out.
        self.hold(['p6', 'p7'], time.time() + 600)
        silent = []
        for _ in range(5):
            sock = socket.socket(PLATFORM.af_unix, socket.SOCK_STREAM)
            self.addCleanup(sock.close)
            sock.connect(self.store.address('p6'))
            silent.append(sock)
        start = time.time()
        self.assertTrue(self.store.request_release('p7'))
        self.assertLess(time.time() - start, 1.0)
        self.assertFalse(self.store.held('p7'))
        self.assertTrue(self.store.held('p6'))
        self.assertTrue(self.store.request_release('p6'))

    def connect(self, name):
        sock = socket.socket(PLATFORM.af_unix, socket.SOCK_STREAM)
        self.addCleanup(sock.close)
        sock.connect(self.store.address(name))  # blocking: waits while the backlog is full
        sock.settimeout(DEADLINE)
        return sock

    def test_requests_other_than_release_change_nothing(self):
        self.hold(['p8'], time.time() + 600)
        (pid,) = _holders(self.store)
        sock = self.connect('p8')
        sock.sendall(b'hello\n')
        self.assertEqual(sock.recv(16), b'')  # dropped without an answer
        self.assertTrue(self.store.held('p8'))
        self.assertTrue(self.store.request_release('p8'))
        _wait_until(lambda: _gone(pid), 'exited once nothing is held')

    def test_oldest_requests_are_dropped_beyond_the_most_pending(self):
        self.hold(['p9'], time.time() + 600)
        (pid,) = _holders(self.store)
        silent = [self.connect('p9') for _ in range(_holder._MAX_PENDING + 2)]
        self.assertEqual(silent[0].recv(16), b'')  # dropped for the newer ones
        self.assertEqual(silent[1].recv(16), b'')
        self.assertTrue(self.store.request_release('p9'))
        _wait_until(lambda: _gone(pid), 'exited once nothing is held')

    def test_requester_that_leaves_before_the_answer_still_releases(self):
        self.hold(['p10'], time.time() + 600)
        (pid,) = _holders(self.store)
        sock = self.connect('p10')
        sock.sendall(b'release\n')
        sock.close()
        _wait_until(lambda: not self.store.held('p10'), 'released')
        _wait_until(lambda: _gone(pid), 'exited once nothing is held')

    @skip_unless_root
    def test_release_request_of_another_user_is_refused(self):
        uid, gid = _make_user(self)
        self.hold(['p5'], time.time() + 600)
        store = self.store
        _pid, result = _fork_as(self, uid, gid,
                                lambda: repr(store.request_release('p5')).encode('ascii'))
        self.assertEqual(result, b'False')
        self.assertTrue(self.store.held('p5'))
        self.assertTrue(self.store.request_release('p5'))  # its own user may
        self.assertFalse(self.store.held('p5'))


class KeeperWithoutHolderTest(unittest.TestCase):
    """Keeper on the file and memory stores (the kernel holder: KeeperTest)."""

    def file_store(self):
        return _leases.FileStore(_temp_dir(self), PLATFORM, time.time)

    def test_file_entries_are_marked_detached_and_outlive_the_process(self):
        store = self.file_store()
        until = time.time() + 600
        handles = [store.acquire(name, until, detached=True) for name in ('p1', 'p2')]
        self.assertEqual([store.judge(n) for n in ('p1', 'p2')], ['locked', 'locked'])
        keeper = _holder.Keeper(store, handles, until)
        keeper.hold()
        self.assertEqual(keeper.handles, [])
        self.assertEqual([h.fd for h in handles], [None, None])  # our copies are closed
        self.assertEqual([store.judge(n) for n in ('p1', 'p2')], ['detached', 'detached'])
        self.assertTrue(store.release_detached('p1'))
        self.assertEqual(store.judge('p1'), 'free')

    def test_file_entry_lost_before_hold_raises(self):
        store = self.file_store()
        until = time.time() + 600
        handles = [store.acquire(name, until, detached=True) for name in ('p1', 'p2')]
        os.remove(os.path.join(store.directory, 'p2.lease'))
        keeper = _holder.Keeper(store, handles, until)
        with self.assertRaises(OSError) as cm:
            keeper.hold()
        self.assertIn('a lease entry in %s was lost before it could be handed on'
                      % store.directory, str(cm.exception))
        self.assertEqual(keeper.handles, [])

    def test_memory_leases_warn_that_nothing_outlives_the_command(self):
        store = _leases.MemoryStore(time.time)
        keeper = _holder.Keeper(store, [store.acquire('p1', time.time() + 60)], 0.0)
        _leases._warned.clear()
        self.addCleanup(_leases._warned.clear)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            keeper.hold()
        self.assertEqual(len(caught), 1)
        self.assertIn('the ports printed are not leased once this command exits',
                      str(caught[0].message))
        self.assertFalse(store.release_detached('p1'))  # nothing detached here
        self.assertEqual(store.describe(), 'memory (this process only)')

    def test_give_back_goes_on_past_a_failing_store(self):
        directory = _temp_dir(self)
        good = _leases.FileStore(directory, PLATFORM, time.time)
        failing = _leases.FileStore(directory, PLATFORM, time.time, lock_module=FailingLock())
        handles = [good.acquire(name, time.time() + 60) for name in ('p1', 'p2')]
        keeper = _holder.Keeper(failing, handles, 0.0)
        keeper.give_back()  # unlocking fails, but closing frees them and nothing raises
        self.assertEqual(keeper.handles, [])
        self.assertEqual([good.judge(n) for n in ('p1', 'p2')], ['free', 'free'])


def _signal(pid, signum):
    try:
        os.kill(pid, signum)
    except OSError:
        pass  # gone already


@skip_unless_kernel_names
class ReleaseAnswersOrNamesTheHolderTest(unittest.TestCase):
    """``release`` tells a free name from a holder that did not answer, and names that holder."""

    def setUp(self):
        directory = private_registry(self)
        self.store = _leases.KernelStore(PLATFORM, _leases.namespace_of(directory))
        self.addCleanup(_kill_holders, self.store)

    def port(self, count, lease=600):
        """Run the port command; ``(ports, holder pid)``."""
        status, out, err = run_main(['port', '-n', str(count), '--lease', str(lease)])
        self.assertEqual((status, err), (0, ''))
        (pid,) = _holders(self.store)
        return [int(p) for p in out.split()], pid

    def stop(self, pid):
        os.kill(pid, signal.SIGSTOP)
        self.addCleanup(_signal, pid, signal.SIGCONT)
        _wait_until(lambda: _processes.process_state(PLATFORM, pid) == 'T', 'stopped')

    def test_stopped_holder_is_named_with_the_fix_then_answers_once_continued(self):
        before = time.time()
        ports, pid = self.port(2)
        self.stop(pid)
        start = time.time()
        status, out, err = run_main(['release'] + [str(p) for p in ports])
        self.assertLess(time.time() - start, 3.0)
        self.assertEqual((status, out), (1, ''))
        until = _holder.holder_expiry(PLATFORM, pid)
        self.assertTrue(before + 600 <= until <= time.time() + 601, until)
        when = time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(until))
        self.assertIn(
            ' release: error: ports %d %d are leased, but their holder process (pid %d) did '
            'not answer within 2.0 s: it is stopped; "kill -CONT %d" lets it answer, '
            '"kill -KILL %d" ends it and every lease it holds, or wait: they end by '
            'themselves at %s (in ' % (ports[0], ports[1], pid, pid, pid, when), err)
        self.assertTrue(re.search(r'\(in (59\d|600) s\)\n$', err), err)
        self.assertEqual(err.count('\n'), 1, err)
        self.assertTrue(self.store.held('p%d' % ports[0]))
        os.kill(pid, signal.SIGCONT)
        # The requests it read late were given up: they changed nothing.
        self.assertTrue(self.store.held('p%d' % ports[0]))
        self.assertEqual(run_main(['release'] + [str(p) for p in ports]), (0, '', ''))
        self.assertFalse(self.store.held('p%d' % ports[0]))
        _wait_until(lambda: _gone(pid), 'exited once nothing is held')

    def test_kill_as_advised_ends_a_stopped_holders_leases(self):
        ports, pid = self.port(2)
        self.stop(pid)
        os.kill(pid, signal.SIGKILL)
        _wait_until(lambda: _gone(pid), 'ended by SIGKILL although stopped')
        self.assertFalse(self.store.held('p%d' % ports[0]))
        self.assertFalse(self.store.held('p%d' % ports[1]))

    def test_a_second_port_of_a_stopped_holder_fails_at_once(self):
        ports, pid = self.port(2)
        self.stop(pid)
        with self.assertRaises(_holder.HolderNotAnsweringError) as cm:
            self.store.release_detached('p%d' % ports[0])
        self.assertEqual((cm.exception.pid, cm.exception.stopped), (pid, True))
        self.assertIn('(pid %d) did not answer within 2.0 s (it is stopped)' % pid,
                      str(cm.exception))
        start = time.time()
        with self.assertRaises(_holder.HolderNotAnsweringError):
            self.store.release_detached('p%d' % ports[1])
        self.assertLess(time.time() - start, 1.0)

    def test_holder_with_a_full_queue_is_found_without_a_connection(self):
        ports, pid = self.port(1)
        self.stop(pid)
        address = self.store.address('p%d' % ports[0])
        queued = []
        while True:  # fill its queue: connects then find it full (EAGAIN)
            sock = socket.socket(PLATFORM.af_unix, socket.SOCK_STREAM)
            self.addCleanup(sock.close)
            sock.setblocking(False)
            if _processes.connect_unix(sock, address) != 'connected':
                break
            queued.append(sock)
            self.assertLess(len(queued), 10000)
        _holder._silent_pids.discard(pid)
        with self.assertRaises(_holder.HolderNotAnsweringError) as cm:
            self.store.release_detached('p%d' % ports[0])
        self.assertEqual((cm.exception.pid, cm.exception.stopped), (pid, True))

    def test_release_of_a_port_nobody_leased_says_so_at_once(self):
        start = time.time()
        self.assertEqual(
            run_main(['release', '20001'])[:2], (1, ''))
        status, out, err = run_main(['release', '20001', '20002'])
        self.assertLess(time.time() - start, 1.0)
        self.assertIn(' release: error: these ports were not leased by "port" for this user '
                      '(released already, run out, or never leased): 20001 20002\n', err)

    def test_release_of_a_port_a_running_process_leased_is_refused(self):
        handle = self.store.acquire('p20003', time.time() + 60)  # a test's lease: no holder
        self.addCleanup(self.store.release, handle)
        status, out, err = run_main(['release', '20003'])
        self.assertEqual(status, 1)
        self.assertIn(' release: error: this port was not leased by "port" for this user '
                      '(released already, run out, or never leased): 20003\n', err)
        self.assertTrue(self.store.held('p20003'))

    def test_holder_command_line_is_one_short_line_naming_it(self):
        ports, pid = self.port(3)
        shown = subprocess.check_output(['ps', '-o', 'args=', '-p', str(pid)])
        self.assertEqual(shown.decode('utf-8').count('\n'), 1, shown)
        args = subprocess.check_output(['ps', '-ww', '-o', 'args=', '-p', str(pid)])
        args = args.decode('utf-8').rstrip('\n')
        self.assertTrue(re.match(r'^%s -m testsupport\._holder --until \d+ --fds [0-9,-]+$'
                                 % re.escape(sys.executable), args), args)
        self.assertLess(len(args), len(sys.executable) + 60, args)
        self.assertEqual(run_main(['release'] + [str(p) for p in ports]), (0, '', ''))

    def test_holder_starts_when_warnings_are_errors(self):
        # python -m testsupport._holder would warn (then fail) if importing
        # the package had imported the module already.
        set_env(self, 'PYTHONWARNINGS', 'error')
        ports, pid = self.port(1)
        self.assertEqual(run_main(['release', str(ports[0])]), (0, '', ''))

    def test_holder_argv_and_its_descriptor_ranges(self):
        argv = _holder.holder_argv([9, 3, 4, 5, 7, 8, 12], 1733333333.2)
        self.assertEqual(argv, [sys.executable, '-m', 'testsupport._holder', '--until',
                                '1733333334', '--fds', '3-5,7-9,12'])
        self.assertEqual(_holder._parse_fds('3-5,7-9,12'), [3, 4, 5, 7, 8, 9, 12])

    def test_bad_holder_command_line_exits_2(self):
        err = []

        class Err(object):
            write = err.append
        old, sys.stderr = sys.stderr, Err()
        try:
            status = _holder.main(['--until', 'soon'])
        finally:
            sys.stderr = old
        self.assertEqual(status, 2)
        self.assertIn('usage: python -m testsupport._holder --until SECONDS --fds 3-7,9 '
                      '(started by the "port" command, not by hand)', ''.join(err))


#: Processes of another user flooding the holder at once.
_FLOODERS = 4


def _flood(addresses, stop_fd, report_fd, seconds, limit):
    """Connect to *addresses* round and round, closing each at once; report the counts.

    Stops when *stop_fd* reads end of file, after *seconds*, or after *limit*
    attempts; writes ``go`` once flooding, then ``<attempts> <connected>``.
    """
    attempts = connected = 0
    end = time.time() + seconds
    started = False
    while attempts < limit and time.time() < end:
        for address in addresses:
            sock = socket.socket(PLATFORM.af_unix, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                sock.connect(address)
                connected += 1
            except socket.error:
                pass  # its queue is full, or the name was released
            sock.close()
            attempts += 1
        if not started and connected >= 200:
            os.write(report_fd, b'go\n')
            started = True
        if attempts % 50 < len(addresses) and select.select([stop_fd], [], [], 0)[0]:
            break
    os.write(report_fd, ('%d %d\n' % (attempts, connected)).encode('ascii'))


@skip_unless_kernel_names
class FloodByAnotherUserTest(unittest.TestCase):

    @skip_unless_root
    def test_owner_releases_all_succeed_while_another_user_floods_the_holder(self):
        directory = private_registry(self)
        store = _leases.KernelStore(PLATFORM, _leases.namespace_of(directory))
        self.addCleanup(_kill_holders, store)
        uid, gid = _make_user(self)
        status, out, err = run_main(['port', '-n', '5', '--lease', '600'])
        self.assertEqual((status, err), (0, ''))
        ports = [int(p) for p in out.split()]
        addresses = [store.address('p%d' % p) for p in ports]
        stop_r, stop_w = os.pipe()
        stop = [stop_w]

        def stop_flood():
            while stop:
                os.close(stop.pop())
        self.addCleanup(stop_flood)
        reports = [self.flooder(uid, gid, addresses, stop_r, stop_w) for _ in range(_FLOODERS)]
        os.close(stop_r)
        for report in reports:  # flooding, and reaching the holder
            self.assertEqual(report.readline(), b'go\n')
        results = [run_main(['release', str(port)]) for port in ports]
        stop_flood()
        counts = [[int(n) for n in report.readline().split()] for report in reports]
        self.assertEqual(results, [(0, '', '')] * 5, counts)
        self.assertGreater(min(connected for _attempts, connected in counts), 200)

    def flooder(self, uid, gid, addresses, stop_r, stop_w):
        """A process of user *uid* flooding *addresses* until *stop_w* is closed: its report."""
        report_r, report_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the flooder: never return into the test runner
            try:
                os.close(stop_w)
                os.close(report_r)
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)
                _flood(addresses, stop_r, report_w, 30.0, 10 ** 7)
            finally:
                os._exit(0)
        self.addCleanup(_reap, pid)
        os.close(report_w)
        report = os.fdopen(report_r, 'rb')
        self.addCleanup(report.close)
        return report
