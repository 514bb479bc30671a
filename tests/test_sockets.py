"""Tests for testsupport._sockets: the one bind() and its messages, private directories.

Most of _sockets is tested through its callers (test_socket_helper.py); these
are the branches those cannot reach here: PyPy's errno-less family mismatch and
an EINVAL on a socket that cannot say where it is bound, both on a FakeSocket;
and the sweep of private directories against real processes: a live holder
(also one in another pid namespace) keeps its directory, a SIGKILLed one loses
it, squatted entries are left alone.
"""
from __future__ import absolute_import, division, print_function

import errno
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import unittest

from testsupport import _sockets, _system, _tempdirs, platform_shim
from tests.fakes import FakeSocket, FakeSocketError
from tests.helpers import (FdLeakMixin, fd_count, new_socket, pid_gone, private_tmpdir,
                           unavailable)

LINUX = platform_shim.LINUX


class UnnamedFakeSocket(FakeSocket):
    """A FakeSocket whose getsockname() fails, as on a socket the kernel has dropped."""

    def getsockname(self):
        raise FakeSocketError(errno.EBADF, 'Bad file descriptor')


class BindMessagesTest(unittest.TestCase):

    def test_errnoless_family_mismatch_is_a_gaierror_naming_the_host(self):
        # PyPy raises OSError('address family mismatched') without an errno.
        sock = FakeSocket(family=socket.AF_INET6,
                          bind_error=socket.error('address family mismatched'))
        with self.assertRaises(socket.gaierror) as cm:
            _sockets.bind(sock, 'localhost', 0, 'bind_port', LINUX)
        self.assertEqual(cm.exception.errno, LINUX.gai_errnos['EAI_NONAME'])
        self.assertIn("bind_port(): cannot resolve host 'localhost' for AF_INET6: address "
                      "family mismatched", str(cm.exception))

    def test_einval_on_a_socket_without_a_name_propagates_unchanged(self):
        error = FakeSocketError(errno.EINVAL, 'Invalid argument')
        sock = UnnamedFakeSocket(bind_error=error)
        with self.assertRaises(socket.error) as cm:
            _sockets.bind(sock, '127.0.0.1', 0, 'bind_port', LINUX)
        self.assertIs(cm.exception, error)

    def test_ipv6_addresses_are_bracketed(self):
        self.assertEqual(_sockets.format_address('::1', 80), '[::1]:80')
        self.assertEqual(_sockets.format_address('127.0.0.1', 80), '127.0.0.1:80')


class RemoveDeadPrivateDirsTest(unittest.TestCase):

    def test_missing_base_removes_nothing(self):
        base = tempfile.mkdtemp(prefix='tsu-dead-')
        shutil.rmtree(base)
        self.assertEqual(_sockets.remove_dead_private_dirs(LINUX, base, _system.user_id()), 0)


if __name__ == '__main__':
    unittest.main()


class ProbeBindTest(FdLeakMixin, unittest.TestCase):

    def test_probe_bind_closes_its_socket(self):
        result, exc = self.assertNoFdLeak(_sockets.probe_bind, socket.AF_INET, ('127.0.0.1', 0))
        self.assertIsNone(exc)
        self.assertIsNone(result)
        taken = new_socket(self)
        taken.bind(('127.0.0.1', 0))
        error, exc = self.assertNoFdLeak(_sockets.probe_bind, socket.AF_INET,
                                         taken.getsockname())
        self.assertEqual(error.errno, errno.EADDRINUSE)

    def test_probe_bind_reports_socket_creation_errors(self):
        error, exc = self.assertNoFdLeak(_sockets.probe_bind, 12345, ('x', 0))
        self.assertIsNone(exc)
        self.assertEqual(error.errno, errno.EAFNOSUPPORT)




_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: A process holding a private directory (with a listening socket in it) in the
#: base argv[1] until its stdin closes; prints its pid and the directory.
_HOLDER = (
    'import os, socket, sys\n'
    'from testsupport import _sockets, platform_shim\n'
    'd = _sockets.make_private_dir(platform_shim.current(), [sys.argv[1]])\n'
    's = socket.socket(socket.AF_UNIX)\n'
    's.bind(os.path.join(d, "a.sock")); s.listen(8)\n'
    'print("%d %s" % (os.getpid(), d)); sys.stdout.flush()\n'
    'sys.stdin.read()\n')

#: Sweeps the base argv[1] as make_private_dir() does; prints its pid and the count.
_SWEEPER = (
    'import os, sys\n'
    'from testsupport import _sockets, _system, _tempdirs, platform_shim\n'
    'p = platform_shim.current()\n'
    'mine = _sockets.make_private_dir(p, [sys.argv[1]])\n'
    'n = _sockets.remove_dead_private_dirs(p, sys.argv[1], _system.user_id())\n'
    '_tempdirs.remove_tree_quietly(mine)\n'
    'print("%d %d" % (os.getpid(), n))\n')

_UNSHARE = ['unshare', '--pid', '--fork', '--mount-proc']


def _env():
    return dict(os.environ, PYTHONPATH=_ROOT)


def _unshare_problem():
    """None if this user can run a process in a new pid namespace, else why not."""
    try:
        proc = subprocess.Popen(_UNSHARE + ['true'], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
    except (OSError, IOError) as exc:
        return 'needs unshare(1) from util-linux to make pid namespaces: %s' % (exc,)
    out = proc.communicate()[0]
    if proc.returncode:
        return ('needs permission to make pid namespaces (%s exited %d: %s)'
                % (' '.join(_UNSHARE), proc.returncode, out.decode('utf-8', 'replace').strip()))
    return None


_requires_linux = unittest.skipUnless(
    sys.platform.startswith('linux'),
    'real processes, flock and /proc: Linux only (others by description in test_system.py)')


class LiveHolderMixin(object):

    def start_holder(self, base, prefix=()):
        """Start _HOLDER (under *prefix*, e.g. unshare); ``(process, pid, directory)``."""
        proc = subprocess.Popen(list(prefix) + [sys.executable, '-c', _HOLDER, base],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=_env())
        self.addCleanup(self.stop_holder, proc)
        line = proc.stdout.readline().decode('ascii').split()
        self.assertEqual(len(line), 2, 'holder did not start: %r' % (line,))
        return proc, int(line[0]), line[1]

    def stop_holder(self, proc):
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdin.close()
        proc.stdout.close()

    def assertSocketServes(self, directory):
        self.assertEqual(sorted(os.listdir(directory)), [_tempdirs.LOCK_FILE_NAME, 'a.sock'])
        client = new_socket(self, socket.AF_UNIX)
        client.connect(os.path.join(directory, 'a.sock'))  # ENOENT if it was swept


@_requires_linux
class SweepLiveHolderTest(LiveHolderMixin, unittest.TestCase):
    """A directory's creator keeps it while it lives, and loses it once SIGKILLed."""

    def test_live_holder_keeps_its_directory_and_a_killed_one_loses_it(self):
        base = private_tmpdir(self)
        proc, pid, directory = self.start_holder(base)
        self.assertEqual(os.path.dirname(directory), base)
        uid = _system.user_id()
        for _ in range(3):
            self.assertEqual(_sockets.remove_dead_private_dirs(LINUX, base, uid), 0)
        self.assertSocketServes(directory)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        self.assertTrue(os.path.isdir(directory))  # no atexit ran
        self.assertEqual(_sockets.remove_dead_private_dirs(LINUX, base, uid), 1)
        self.assertFalse(os.path.exists(directory))
        self.assertEqual(os.listdir(base), [])

    def test_holder_that_exits_removes_its_directory(self):
        base = private_tmpdir(self)
        proc, pid, directory = self.start_holder(base)
        proc.stdin.close()
        self.assertEqual(proc.wait(), 0)
        self.assertEqual(os.listdir(base), [])

    def test_names_are_short_and_carry_no_pid(self):
        base = private_tmpdir(self)
        directory = _sockets.make_private_dir(LINUX, [base])
        self.addCleanup(_tempdirs.remove_tree_quietly, directory)
        name = os.path.basename(directory)
        self.assertEqual(len(name), len('tsu-') + 12, name)
        self.assertTrue(name.startswith('tsu-'), name)
        self.assertNotIn(str(os.getpid()), name[len('tsu-'):])
        self.assertEqual(stat.S_IMODE(os.lstat(directory).st_mode), 0o700)
        self.assertEqual(os.listdir(directory), [_tempdirs.LOCK_FILE_NAME])

    def test_make_and_remove_leak_no_descriptor(self):
        base = private_tmpdir(self)
        before = fd_count()
        for _ in range(5):
            directory = _sockets.make_private_dir(LINUX, [base])
            self.assertEqual(fd_count(), before + 1)  # the lock, while it exists
            _tempdirs.remove_tree_quietly(directory)
            self.assertEqual(fd_count(), before)
        self.assertEqual(os.listdir(base), [])

    def test_own_live_directory_survives_its_own_sweep(self):
        base = private_tmpdir(self)
        directory = _sockets.make_private_dir(LINUX, [base])
        self.addCleanup(_tempdirs.remove_tree_quietly, directory)
        self.assertEqual(_sockets.remove_dead_private_dirs(LINUX, base, _system.user_id()), 0)
        self.assertTrue(os.path.isdir(directory))


@_requires_linux
class SweepAcrossPidNamespacesTest(LiveHolderMixin, unittest.TestCase):
    """Process A in its own pid namespace keeps its directory while B (another) sweeps."""

    def test_other_namespace_sweep_leaves_a_live_directory_and_its_socket(self):
        problem = _unshare_problem()
        if problem is not None:
            unavailable(self, problem)
        base = private_tmpdir(self)  # TMPDIR shared by A and B, nobody else
        proc, pid_a, directory = self.start_holder(base, _UNSHARE)
        self.assertEqual(pid_a, 1)  # its own pid namespace: the pid means nothing here
        for _ in range(2):
            out = subprocess.check_output(_UNSHARE + [sys.executable, '-c', _SWEEPER, base],
                                          env=_env())
            pid_b, removed = [int(word) for word in out.split()]
            self.assertEqual((pid_b, removed), (1, 0))
        self.assertTrue(os.path.isdir(directory))
        self.assertSocketServes(directory)
        self.assertEqual(os.listdir(base), [os.path.basename(directory)])
        proc.stdin.close()
        self.assertEqual(proc.wait(), 0)
        self.assertEqual(os.listdir(base), [])

    def test_other_namespace_sweep_removes_a_killed_holders_directory(self):
        problem = _unshare_problem()
        if problem is not None:
            unavailable(self, problem)
        base = private_tmpdir(self)
        proc, pid_a, directory = self.start_holder(base, _UNSHARE)
        self.assertEqual(self.kill_holders_of(directory), 1)  # A, pid 1 of its namespace
        proc.wait()  # unshare ends with its child
        self.assertTrue(os.path.isdir(directory))  # no atexit ran
        out = subprocess.check_output(_UNSHARE + [sys.executable, '-c', _SWEEPER, base],
                                      env=_env())
        self.assertEqual(out.split()[0], b'1')
        self.assertEqual(os.listdir(base), [])  # B's make_private_dir() swept it

    def kill_holders_of(self, directory):
        """SIGKILL the processes holding *directory*'s lock file open; wait till they are dead.

        Found in /proc (this test's pid namespace sees them all); returns how many.
        """
        lock = os.path.join(directory, _tempdirs.LOCK_FILE_NAME)
        pids = []
        for name in os.listdir('/proc'):
            if not name.isdigit():
                continue
            try:
                fds = os.listdir('/proc/%s/fd' % name)
            except (OSError, IOError):
                continue
            for fd in fds:
                try:
                    if os.readlink('/proc/%s/fd/%s' % (name, fd)) == lock:
                        pids.append(int(name))
                except (OSError, IOError):
                    pass
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        for pid in pids:
            while True:
                if pid_gone(pid):  # a zombie holds no lock
                    break
        return len(pids)


@_requires_linux
class SweepSquattersTest(unittest.TestCase):
    """Entries planted under the prefix are left alone and do not stop the sweep."""

    def dead_dir(self, base, name):
        path = os.path.join(base, name)
        os.mkdir(path, 0o700)
        open(os.path.join(path, _tempdirs.LOCK_FILE_NAME), 'w').close()
        return path

    def test_squatted_entries_are_left_alone_and_the_dead_directory_goes(self):
        base = private_tmpdir(self)
        outside = private_tmpdir(self)
        target = self.dead_dir(outside, 'target')  # lockable: a sweep must not follow the link
        open(os.path.join(target, 'keep'), 'w').close()
        os.symlink(target, os.path.join(base, 'tsu-link'))
        fifo_dir = os.path.join(base, 'tsu-fifo')
        os.mkdir(fifo_dir)
        os.mkfifo(os.path.join(fifo_dir, _tempdirs.LOCK_FILE_NAME))
        link_dir = os.path.join(base, 'tsu-locklink')
        os.mkdir(link_dir)
        os.symlink(os.path.join(target, _tempdirs.LOCK_FILE_NAME),
                   os.path.join(link_dir, _tempdirs.LOCK_FILE_NAME))
        os.makedirs(os.path.join(base, 'tsu-lockdir', _tempdirs.LOCK_FILE_NAME))
        os.mkdir(os.path.join(base, 'tsu-nolock'))  # e.g. tempfile.mkdtemp(prefix='tsu-')
        open(os.path.join(base, 'tsu-file'), 'w').close()
        dead = self.dead_dir(base, 'tsu-dead')
        squatters = sorted(set(os.listdir(base)) - set(['tsu-dead']))
        before = fd_count()
        self.assertEqual(_sockets.remove_dead_private_dirs(LINUX, base, _system.user_id()), 1)
        self.assertEqual(fd_count(), before)
        self.assertFalse(os.path.exists(dead))
        self.assertEqual(sorted(os.listdir(base)), squatters)
        self.assertEqual(sorted(os.listdir(target)), [_tempdirs.LOCK_FILE_NAME, 'keep'])
        self.assertTrue(stat.S_ISFIFO(os.lstat(os.path.join(fifo_dir,
                                                            _tempdirs.LOCK_FILE_NAME)).st_mode))

    def test_another_users_directory_is_left_alone(self):
        if _system.user_id() != 0:
            unavailable(self, 'needs root to act as a second user (runuser -u nobody)')
        base = private_tmpdir(self)
        os.chmod(base, 0o1777)  # shared and sticky, as /tmp
        other = os.path.join(base, 'tsu-other')
        try:
            subprocess.check_call(['runuser', '-u', 'nobody', '--', 'sh', '-c',
                                   'mkdir -m 700 "$1" && : > "$1/%s"' % _tempdirs.LOCK_FILE_NAME,
                                   'sh', other])
        except (OSError, IOError, subprocess.CalledProcessError) as exc:
            unavailable(self, 'cannot create a directory as user nobody: %s' % (exc,))
        self.assertNotEqual(os.lstat(other).st_uid, 0)
        dead = os.path.join(base, 'tsu-dead')
        os.mkdir(dead, 0o700)
        open(os.path.join(dead, _tempdirs.LOCK_FILE_NAME), 'w').close()
        self.assertEqual(_sockets.remove_dead_private_dirs(LINUX, base, 0), 1)
        self.assertEqual(os.listdir(base), ['tsu-other'])
        self.assertEqual(os.listdir(other), [_tempdirs.LOCK_FILE_NAME])
