"""Tests for testsupport._system and _processes: files, locks, directories, process trees.

Windows and macOS are tested by description: platform_shim.WINDOWS (MACOS) with a fake
msvcrt, kernel32 or killpg; the Linux branch also runs against the real kernel.
"""
from __future__ import absolute_import, division, print_function

import errno
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from testsupport import _leases, _port_tables, _processes, _system, _tempdirs, platform_shim
from testsupport.platform_shim import LINUX, WINDOWS
from tests.fakes import FakeSocket, FakeSocketError
from tests.helpers import fd_count


class FakeMsvcrt(object):
    """Records msvcrt.locking() calls; raises the queued errors first."""

    LK_LOCK = 1
    LK_UNLCK = 0

    def __init__(self, errors=()):
        self.errors = list(errors)
        self.calls = []

    def locking(self, fd, mode, nbytes):
        self.calls.append((mode, nbytes))
        if self.errors:
            raise self.errors.pop(0)


class FakeFcntl(object):
    LOCK_EX = 2
    LOCK_UN = 8

    def __init__(self):
        self.calls = []

    def flock(self, fd, operation):
        self.calls.append(operation)


class Stat(object):
    def __init__(self, mode, uid):
        self.st_mode = mode
        self.st_uid = uid


def temp_fd(test):
    handle, path = tempfile.mkstemp(prefix='tsu-lock-')
    test.addCleanup(os.remove, path)
    test.addCleanup(os.close, handle)
    return handle


class LockTest(unittest.TestCase):

    def test_posix_uses_flock(self):
        fake = FakeFcntl()
        _system.lock_fd(platform_shim.LINUX, 3, fake)
        _system.unlock_fd(platform_shim.LINUX, 3, fake)
        self.assertEqual(fake.calls, [FakeFcntl.LOCK_EX, FakeFcntl.LOCK_UN])

    def test_windows_locks_the_first_byte(self):
        fake = FakeMsvcrt()
        fd = temp_fd(self)
        _system.lock_fd(platform_shim.WINDOWS, fd, fake)
        _system.unlock_fd(platform_shim.WINDOWS, fd, fake)
        self.assertEqual(fake.calls, [(FakeMsvcrt.LK_LOCK, 1), (FakeMsvcrt.LK_UNLCK, 1)])

    def test_windows_retries_while_another_process_holds_it(self):
        fake = FakeMsvcrt([IOError(errno.EDEADLK, 'Resource deadlock avoided')] * 2)
        _system.lock_fd(platform_shim.WINDOWS, temp_fd(self), fake)
        self.assertEqual(len(fake.calls), 3)

    def test_windows_gives_up_after_a_minute(self):
        error = IOError(errno.EDEADLK, 'Resource deadlock avoided')
        fake = FakeMsvcrt([error] * 6)
        with self.assertRaises(IOError):
            _system.lock_fd(platform_shim.WINDOWS, temp_fd(self), fake)
        self.assertEqual(len(fake.calls), 6)

    def test_real_lock_here(self):
        fd = temp_fd(self)
        _system.lock_fd(platform_shim.current(), fd)
        _system.unlock_fd(platform_shim.current(), fd)


class PrivateDirTest(unittest.TestCase):

    def test_descriptions(self):
        linux = platform_shim.LINUX
        lstat = lambda mode, uid: (lambda path: Stat(mode, uid))  # noqa: E731
        self.assertIsNone(_system.private_dir_problem(linux, 'd', 0, lstat(0o40700, 0)))
        self.assertEqual(_system.private_dir_problem(linux, 'd', 0, lstat(0o40700, 5)),
                         'is owned by uid 5, not by you (uid 0)')
        self.assertEqual(_system.private_dir_problem(linux, 'd', 0, lstat(0o40777, 0)),
                         'is writable by group or others (mode 0777)')
        self.assertEqual(_system.private_dir_problem(linux, 'd', 0, lstat(0o120777, 0)),
                         'is a symbolic link')
        self.assertEqual(_system.private_dir_problem(linux, 'd', 0, lstat(0o100600, 0)),
                         'is not a directory')
        self.assertIsNone(_system.private_dir_problem(
            platform_shim.WINDOWS, 'd', None, lstat(0o40777, 0)))

    def test_default_registry_dir(self):
        ok = lambda path: Stat(0o40700, 1000)  # noqa: E731
        self.assertEqual(_system.default_registry_dir(
            platform_shim.WINDOWS, {'LOCALAPPDATA': r'C:\Users\me\AppData\Local'}, 'T', None),
            os.path.join(r'C:\Users\me\AppData\Local', 'testsupport'))
        self.assertEqual(_system.default_registry_dir(
            platform_shim.LINUX, {'XDG_RUNTIME_DIR': '/run/user/1000'}, '/tmp', 1000, ok),
            '/run/user/1000/testsupport')
        self.assertEqual(_system.default_registry_dir(
            platform_shim.LINUX, {'XDG_RUNTIME_DIR': '/run/user/1000'}, '/tmp', 1001, ok),
            '/tmp/testsupport-1001')
        self.assertEqual(_system.default_registry_dir(
            platform_shim.MACOS, {}, '/var/folders/x/T', 501), '/var/folders/x/T/testsupport-501')

    def test_file_errors(self):
        self.assertTrue(_system.is_file_exists_error(OSError(errno.EEXIST, 'exists')))
        self.assertTrue(_system.is_file_missing_error(IOError(errno.ENOENT, 'missing')))
        self.assertFalse(_system.is_file_exists_error(OSError(errno.ENOENT, 'missing')))



posix_devnull = unittest.skipUnless(os.name == 'posix' and os.devnull == '/dev/null',
                                    'needs a character device (/dev/null)')


class RegistryFilesTest(unittest.TestCase):
    """The registry's file primitives refuse what is not a regular file and leak nothing."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix='tsu-files-')
        self.addCleanup(shutil.rmtree, self.dir, True)

    def test_failed_write_removes_the_new_file(self):
        path = os.path.join(self.dir, 'b1.lease')
        before = fd_count()
        with self.assertRaises(TypeError):
            _system.create_file_exclusive(path, None)  # os.write() refuses it
        self.assertEqual(os.listdir(self.dir), [])
        self.assertEqual(fd_count(), before)

    @posix_devnull
    def test_rewrite_refuses_a_device(self):
        before = fd_count()
        with self.assertRaises(_system.OddFileError) as cm:
            _system.rewrite_file(os.devnull, b'1 - 2.0 0 process\n')
        self.assertIn('not a regular file', str(cm.exception))
        self.assertEqual(fd_count(), before)

    @posix_devnull
    def test_lock_file_that_is_a_device_is_refused(self):
        before = fd_count()
        with self.assertRaises(_system.OddFileError) as cm:
            _system.open_lock_file(os.devnull)
        self.assertIn('not a regular file', str(cm.exception))
        self.assertEqual(fd_count(), before)

    def test_remove_tree_of_a_regular_file_raises(self):
        path = os.path.join(self.dir, 'file')
        with open(path, 'w'):
            pass
        with self.assertRaises(EnvironmentError):
            _tempdirs.remove_tree_quietly(path)
        _tempdirs.remove_tree_quietly(os.path.join(self.dir, 'missing'))  # fine


class RegistryPlacesTest(unittest.TestCase):

    def test_fallback_registry_dir(self):
        self.assertIsNone(_system.fallback_registry_dir(
            platform_shim.WINDOWS, {'HOME': '/home/me'}, 'box'))
        self.assertEqual(_system.fallback_registry_dir(
            platform_shim.LINUX, {'XDG_CACHE_HOME': '/cache', 'HOME': '/home/me'}, 'box'),
            os.path.join('/cache', 'testsupport', 'ports-box'))
        self.assertEqual(_system.fallback_registry_dir(
            platform_shim.MACOS, {'HOME': '/Users/me'}, ''),
            os.path.join('/Users/me', '.cache', 'testsupport', 'ports-localhost'))
        self.assertIsNone(_system.fallback_registry_dir(platform_shim.LINUX, {}, 'box'))

    def test_missing_runtime_dir_gives_the_temp_directory(self):
        def missing(path):
            raise OSError(errno.ENOENT, 'No such file or directory')
        self.assertEqual(_system.default_registry_dir(
            platform_shim.LINUX, {'XDG_RUNTIME_DIR': '/run/user/1000'}, '/tmp', 1000, missing),
            os.path.join('/tmp', 'testsupport-1000'))


class PeerAndProcessTest(unittest.TestCase):

    def test_peer_uid_where_the_platform_cannot_tell(self):
        sock = FakeSocket(family=1)
        self.assertIsNone(_processes.peer_uid(platform_shim.MACOS, sock))
        self.assertEqual(sock.calls, [])  # no SO_PEERCRED there: not even asked

    def test_peer_uid_when_the_option_fails(self):
        linux = platform_shim.LINUX
        sock = FakeSocket(family=1, options={
            (linux.sol_socket, linux.so_peercred): FakeSocketError(errno.ENOTCONN)})
        self.assertIsNone(_processes.peer_uid(linux, sock))


class LockingMsvcrt(object):
    """msvcrt.locking() as Windows does it: byte locks per open handle, conflicting
    with every other handle of the file (this process's included)."""

    LK_UNLCK, LK_LOCK, LK_NBLCK = 0, 1, 2

    def __init__(self):
        self.owners = {}  # (dev, inode, offset) -> fd
        self.calls = []

    def locking(self, fd, mode, nbytes):
        info = os.fstat(fd)
        key = (info.st_dev, info.st_ino, os.lseek(fd, 0, 1))
        self.calls.append((mode, nbytes, key[2]))
        if mode == self.LK_UNLCK:
            if self.owners.get(key) != fd:
                raise IOError(errno.EACCES, 'Permission denied')
            del self.owners[key]
        elif self.owners.setdefault(key, fd) != fd:
            raise IOError(errno.EACCES, 'Permission denied')


class WindowsRegistryTest(unittest.TestCase):
    """The file store as a Windows process runs it (msvcrt byte locks, no shared directory)."""

    def test_claim_refuse_release_and_detach(self):
        directory = tempfile.mkdtemp(prefix='tsu-win-')
        self.addCleanup(shutil.rmtree, directory, True)
        msvcrt = LockingMsvcrt()
        now = [1000.0]
        owner = _leases.FileStore(directory, WINDOWS, lambda: now[0], lock_module=msvcrt)
        other = _leases.FileStore(directory, WINDOWS, lambda: now[0], lock_module=msvcrt)
        handle = owner.acquire('b700', 2000.0)
        self.assertIsNotNone(handle)
        self.assertEqual(other.judge('b700'), 'locked')
        self.assertIsNone(other.acquire('b700', 2000.0))
        owner.release(handle)
        self.assertEqual(msvcrt.owners, {})
        taken = other.acquire('b700', 2000.0)
        self.assertIsNotNone(taken)
        other.release(taken)
        self.assertTrue(all(call[1:] == (1, 0) for call in msvcrt.calls))  # byte 0 only
        port = owner.acquire('p7000', 1600.0, detached=True)
        owner.detach([port], 1600.0)
        owner.forget(port)
        del msvcrt.owners[list(msvcrt.owners)[0]]  # closing the handle drops its lock
        self.assertEqual(other.judge('p7000'), 'detached')
        now[0] = 1601.0
        self.assertEqual(other.judge('p7000'), 'free')
        self.assertEqual(sorted(os.listdir(directory)), ['b700.lease', 'p7000.lease'])
        self.assertEqual(_system.shared_dir_problem(WINDOWS, directory),
                         'this system has no sticky directories')


if __name__ == '__main__':
    unittest.main()


class RemoveQuietlyTest(unittest.TestCase):

    def test_missing_file_is_fine_other_errors_propagate(self):
        _system.remove_quietly('/nonexistent/testsupport/file')
        directory = os.path.dirname(os.path.abspath(__file__))
        with self.assertRaises(EnvironmentError):
            _system.remove_quietly(directory)



class FakeProcTree(object):
    """/proc of described processes: {pid: stat text or None}, fd directories, links."""

    def __init__(self, stats, fds=None, links=None, listable=True):
        self.stats, self.fds, self.links = stats, fds or {}, links or {}
        self.listable = listable

    def read_file(self, path):
        parts = path.split('/')
        if len(parts) == 4 and parts[3] == 'stat':
            return self.stats.get(int(parts[2]))
        return None

    def list_dir(self, path):
        if path == '/proc' and self.listable:
            return [str(pid) for pid in self.stats] + ['self', 'net']
        pid = int(path.split('/')[2]) if path.endswith('/fd') else None
        if pid in self.fds:
            return self.fds[pid]
        raise OSError(errno.EACCES, 'Permission denied')

    def read_link(self, path):
        if path in self.links:
            return self.links[path]
        raise OSError(errno.ENOENT, 'No such file or directory')


class ProcessTreeDescribedTest(unittest.TestCase):

    def test_unlistable_proc_gives_the_pid_alone(self):
        proc = FakeProcTree({}, listable=False)
        self.assertEqual(_processes.process_tree(LINUX, 10, proc.read_file, proc.list_dir),
                         [10])

    def test_descendants_in_other_groups_and_odd_stat_files(self):
        proc = FakeProcTree({
            10: '10 (child) S 1 10 10 0',
            20: '20 (grandchild) S 10 20 20 0',    # its own group: found as a descendant
            30: '30 (great grandchild) S 20 30 30 0',
            40: 'garbage',                         # no ')': skipped
            50: '50 (short) S',                    # too few fields: skipped
            60: None,                              # gone meanwhile
            70: '70 (stranger) S 1 70 70 0',
        })
        self.assertEqual(_processes.process_tree(LINUX, 10, proc.read_file, proc.list_dir),
                         [10, 20, 30])

    def test_listeners_of_a_process_whose_fds_cannot_be_read(self):
        proc = FakeProcTree({10: '10 (child) S 1 10 10 0', 20: '20 (other) S 10 20 20 0'},
                            fds={10: ['3', '4']}, links={'/proc/10/fd/3': 'socket:[111]'})
        tcp = ('  sl  local_address rem_address   st\n'
               '   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000'
               '  1000        0 111 1 0\n')
        read = lambda path: tcp if path == '/proc/net/tcp' else proc.read_file(path)  # noqa
        self.assertEqual(_port_tables.listening_ports(LINUX, 10, read, proc.list_dir,
                                                       proc.read_link),
                         [('127.0.0.1', 8000)])

    def test_platform_without_port_discovery_cannot_tell(self):
        self.assertIsNone(_port_tables.listening_ports(LINUX.replace(port_discovery=None), 10))


class SignalGroupEdgesTest(unittest.TestCase):

    class ExitedProcess(object):
        pid = 4321

        def poll(self):
            return None  # not reaped yet...

        def terminate(self):
            raise OSError(errno.ESRCH, 'No such process')  # ...but gone

    def test_windows_process_that_exited_meanwhile(self):
        self.assertFalse(_processes.signal_process_group(WINDOWS, self.ExitedProcess(),
                                                            False))

    def test_posix_unexpected_error_propagates(self):
        def killpg(pgid, sig):
            raise OSError(errno.EINVAL, 'Invalid argument')
        with self.assertRaises(OSError) as cm:
            _processes.signal_process_group(LINUX, self.ExitedProcess(), True, killpg=killpg)
        self.assertEqual(cm.exception.errno, errno.EINVAL)


# Sample /proc/net lines as a little-endian (x86) Linux prints them.


class NonBlockingMsvcrt(FakeMsvcrt):
    LK_NBLCK = 2


class FakeFlockBusy(object):
    """fcntl whose flock() fails with the queued errors, then succeeds for real."""

    LOCK_EX = 2
    LOCK_NB = 4
    LOCK_UN = 8

    def __init__(self, errors=()):
        self.errors = list(errors)
        self.calls = []

    def flock(self, fd, operation):
        self.calls.append(operation)
        if self.errors:
            raise self.errors.pop(0)


def locked_dir_base(test):
    base = tempfile.mkdtemp(prefix='tsu-base-')
    test.addCleanup(shutil.rmtree, base, True)
    return base


def dead_dir(base, name):
    """A directory as make_locked_dir() leaves it when its creator died: lock file free."""
    path = os.path.join(base, name)
    os.mkdir(path, 0o700)
    open(os.path.join(path, _tempdirs.LOCK_FILE_NAME), 'w').close()
    return path


class TryLockTest(unittest.TestCase):

    def test_posix_second_open_of_the_file_is_refused_until_the_first_closes(self):
        handle, path = tempfile.mkstemp(prefix='tsu-lock-')
        os.close(handle)
        self.addCleanup(os.remove, path)
        first = _system.open_lock_file(path)
        self.addCleanup(os.close, first)
        self.assertTrue(_system.try_lock_fd(LINUX, first))
        second = _system.open_lock_file(path, create=False)
        self.addCleanup(os.close, second)
        self.assertFalse(_system.try_lock_fd(LINUX, second))  # the same process too
        os.close(os.dup(first))  # closing a copy keeps the lock
        self.assertFalse(_system.try_lock_fd(LINUX, second))

    def test_posix_uses_a_non_blocking_flock(self):
        fake = FakeFlockBusy([IOError(errno.EWOULDBLOCK, 'busy')])
        self.assertFalse(_system.try_lock_fd(LINUX, 3, fake))
        self.assertTrue(_system.try_lock_fd(LINUX, 3, fake))
        self.assertEqual(fake.calls, [fake.LOCK_EX | fake.LOCK_NB] * 2)

    def test_posix_other_errors_propagate(self):
        fake = FakeFlockBusy([IOError(errno.ENOLCK, 'No locks available')])
        with self.assertRaises(IOError) as cm:
            _system.try_lock_fd(LINUX, 3, fake)
        self.assertEqual(cm.exception.errno, errno.ENOLCK)

    def test_windows_locks_the_first_byte_without_waiting(self):
        fd = temp_fd(self)
        os.lseek(fd, 5, 0)
        fake = NonBlockingMsvcrt()
        self.assertTrue(_system.try_lock_fd(WINDOWS, fd, fake))
        self.assertEqual(fake.calls, [(fake.LK_NBLCK, 1)])
        self.assertEqual(os.lseek(fd, 0, 1), 0)

    def test_windows_lock_held_elsewhere_is_false(self):
        for code in (errno.EACCES, errno.EDEADLK):
            fake = NonBlockingMsvcrt([IOError(code, 'locked')])
            self.assertFalse(_system.try_lock_fd(WINDOWS, temp_fd(self), fake))

    def test_windows_other_errors_propagate(self):
        fake = NonBlockingMsvcrt([IOError(errno.EBADF, 'Bad file descriptor')])
        with self.assertRaises(IOError) as cm:
            _system.try_lock_fd(WINDOWS, temp_fd(self), fake)
        self.assertEqual(cm.exception.errno, errno.EBADF)

    def test_open_lock_file_without_create_refuses_odd_files(self):
        base = locked_dir_base(self)
        with self.assertRaises(OSError) as cm:
            _system.open_lock_file(os.path.join(base, 'missing'), create=False)
        self.assertEqual(cm.exception.errno, errno.ENOENT)
        os.mkfifo(os.path.join(base, 'fifo'))
        before = fd_count()
        with self.assertRaises(_system.OddFileError):
            _system.open_lock_file(os.path.join(base, 'fifo'), create=False)  # no hang
        self.assertEqual(fd_count(), before)


class MakeLockedDirTest(unittest.TestCase):

    def test_directory_is_locked_until_removed(self):
        base = locked_dir_base(self)
        before = fd_count()
        path = _tempdirs.make_locked_dir(LINUX, base, 'ts-x-')
        self.assertEqual(os.path.dirname(path), base)
        self.assertEqual(len(os.path.basename(path)), len('ts-x-') + 12)
        self.assertEqual(os.listdir(base), [os.path.basename(path)])  # no staging left
        lock = _system.open_lock_file(os.path.join(path, _tempdirs.LOCK_FILE_NAME), create=False)
        self.addCleanup(os.close, lock)
        self.assertFalse(_system.try_lock_fd(LINUX, lock))
        self.assertEqual(_tempdirs.sweep_dead_dirs(LINUX, base, 'ts-x-', _system.user_id()), 0)
        _tempdirs.remove_tree_quietly(path)
        self.assertEqual(os.listdir(base), [])
        self.assertTrue(_system.try_lock_fd(LINUX, lock))  # the maker's lock is gone
        self.assertEqual(fd_count(), before + 1)  # only the test's own *lock*
        _tempdirs.remove_tree_quietly(path)  # already gone: fine

    def test_lock_refused_on_a_new_name_tries_another(self):
        base = locked_dir_base(self)
        fake = FakeFlockBusy([IOError(errno.EWOULDBLOCK, 'busy')])
        before = fd_count()
        path = _tempdirs.make_locked_dir(LINUX, base, 'ts-x-', fake)
        self.addCleanup(_tempdirs.remove_tree_quietly, path)
        self.assertEqual(len(fake.calls), 2)
        self.assertEqual(os.listdir(base), [os.path.basename(path)])
        self.assertEqual(fd_count(), before + 1)

    def test_no_name_after_many_tries_raises_naming_prefix_and_base(self):
        base = locked_dir_base(self)
        fake = FakeFlockBusy([IOError(errno.EWOULDBLOCK, 'busy')] * 50)
        before = fd_count()
        with self.assertRaises(OSError) as cm:
            _tempdirs.make_locked_dir(LINUX, base, 'ts-x-', fake)
        self.assertIn('make_locked_dir(): no new ts-x-* directory in %s after 20 tries' % base,
                      str(cm.exception))
        self.assertEqual(os.listdir(base), [])
        self.assertEqual(fd_count(), before)

    def test_missing_base_propagates(self):
        base = locked_dir_base(self)
        with self.assertRaises(OSError) as cm:
            _tempdirs.make_locked_dir(LINUX, os.path.join(base, 'missing'), 'ts-x-')
        self.assertEqual(cm.exception.errno, errno.ENOENT)

    def test_windows_by_description_locks_without_waiting_and_releases_on_removal(self):
        base = locked_dir_base(self)
        fake = NonBlockingMsvcrt()
        before = fd_count()
        path = _tempdirs.make_locked_dir(WINDOWS, base, 'ts-w-', fake)
        self.assertEqual(fake.calls, [(fake.LK_NBLCK, 1)])
        _tempdirs.remove_tree_quietly(path)  # closes first (Windows), then removes
        self.assertEqual(os.listdir(base), [])
        self.assertEqual(fd_count(), before)

    def test_exit_removes_what_is_left_and_forked_children_remove_nothing(self):
        base = locked_dir_base(self)
        code = ('import os, sys\n'
                'from testsupport import _tempdirs, platform_shim\n'
                'p = _tempdirs.make_locked_dir(platform_shim.LINUX, sys.argv[1], "ts-x-")\n'
                'pid = os.fork()\n'
                'if pid == 0:\n'
                '    sys.exit(0)\n'  # runs the atexit handlers inherited from the parent
                'os.waitpid(pid, 0)\n'
                'print(os.path.isdir(p))\n')
        out = subprocess.check_output([sys.executable, '-c', code, base], env=_child_env())
        self.assertEqual(out.strip(), b'True')
        self.assertEqual(os.listdir(base), [])


def _child_env():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return dict(os.environ, PYTHONPATH=root)


class SweepDeadDirsTest(unittest.TestCase):

    def test_only_unlocked_directories_of_the_prefix_go(self):
        base = locked_dir_base(self)
        live = _tempdirs.make_locked_dir(LINUX, base, 'ts-x-')
        self.addCleanup(_tempdirs.remove_tree_quietly, live)
        dead = dead_dir(base, 'ts-x-dead')
        other = dead_dir(base, 'ts-y-dead')  # another prefix
        self.assertEqual(_tempdirs.sweep_dead_dirs(LINUX, base, 'ts-x-', _system.user_id()), 1)
        self.assertFalse(os.path.exists(dead))
        self.assertTrue(os.path.isdir(live))
        self.assertTrue(os.path.isdir(other))

    def test_another_users_directory_stays(self):
        base = locked_dir_base(self)
        dead_dir(base, 'ts-x-dead')
        uid = os.getuid()
        self.assertEqual(_tempdirs.sweep_dead_dirs(LINUX, base, 'ts-x-', uid + 1), 0)
        self.assertEqual(_tempdirs.sweep_dead_dirs(LINUX, base, 'ts-x-', uid), 1)

    def test_staging_directories_go_only_when_old_and_unlocked(self):
        import time
        base = locked_dir_base(self)
        staging = _tempdirs.staging_prefix('ts-x-')
        self.assertEqual(staging, '.ts-x-new-')
        bare = os.path.join(base, staging + 'bare')  # creator killed before its lock file
        os.mkdir(bare)
        dead_dir(base, staging + 'unlocked')  # killed before the rename
        held = dead_dir(base, staging + 'held')  # stopped between lock and rename
        fd = _system.open_lock_file(os.path.join(held, _tempdirs.LOCK_FILE_NAME), create=False)
        self.addCleanup(os.close, fd)
        self.assertTrue(_system.try_lock_fd(LINUX, fd))
        uid = _system.user_id()
        now = time.time()
        self.assertEqual(_tempdirs.sweep_dead_dirs(LINUX, base, 'ts-x-', uid, now), 0)
        later = now + _tempdirs.STAGING_MAX_AGE + 1
        self.assertEqual(_tempdirs.sweep_dead_dirs(LINUX, base, 'ts-x-', uid, later), 2)
        self.assertEqual(os.listdir(base), [os.path.basename(held)])
        self.assertEqual(_tempdirs.STAGING_MAX_AGE, 600)

    def test_unlistable_base_removes_nothing(self):
        base = locked_dir_base(self)
        missing = os.path.join(base, 'missing')
        self.assertEqual(_tempdirs.sweep_dead_dirs(LINUX, missing, 'ts-x-', None), 0)

    def test_directory_swapped_for_a_link_after_judgement_stays(self):
        base = locked_dir_base(self)
        dead = dead_dir(base, 'ts-x-dead')
        info = os.lstat(dead)
        target = dead_dir(base, 'elsewhere')
        os.rename(dead, os.path.join(base, 'moved'))
        os.symlink(target, dead)
        self.assertFalse(_tempdirs._remove_if_unlocked(LINUX, dead, info, False, None))
        self.assertTrue(os.path.isdir(target))

    def test_windows_by_description_asks_msvcrt_without_waiting(self):
        base = locked_dir_base(self)
        dead_dir(base, 'ts-x-busy')
        busy = NonBlockingMsvcrt([IOError(errno.EACCES, 'locked')])
        before = fd_count()
        self.assertEqual(_tempdirs.sweep_dead_dirs(WINDOWS, base, 'ts-x-', None,
                                                 lock_module=busy), 0)
        self.assertEqual(busy.calls, [(busy.LK_NBLCK, 1)])
        free = NonBlockingMsvcrt()
        self.assertEqual(_tempdirs.sweep_dead_dirs(WINDOWS, base, 'ts-x-', None,
                                                 lock_module=free), 1)
        self.assertEqual(os.listdir(base), [])
        self.assertEqual(fd_count(), before)
