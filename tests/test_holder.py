"""The CLI's detached lease holder (testsupport._holder): Keeper and the holder process."""
from __future__ import absolute_import, division, print_function

import os
import socket
import time
import unittest
import warnings

from testsupport import _holder, _leases
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
        self.hold(['p3'], time.time() + 1.0)
        (pid,) = _holders(self.store)
        self.assertTrue(self.store.held('p3'))
        _wait_until(lambda: not self.store.held('p3'), 'free at the expiry')
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
