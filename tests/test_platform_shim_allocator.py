"""Tests for the platform shim's lease helpers: locks, liveness, private directories.

Windows is tested by description: platform_shim.WINDOWS with a fake msvcrt and a
fake kernel32, as the rest of the shim is.
"""
from __future__ import absolute_import, division, print_function

import ctypes
import errno
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from testsupport import _leases, platform_shim
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


class FakeKernel32(object):
    """OpenProcess/GetExitCodeProcess/CloseHandle of a described Windows."""

    def __init__(self, handle=7, exit_code=259, last_error=0):
        self.handle = handle
        self.exit_code = exit_code
        self.last_error = last_error
        self.closed = []

    def OpenProcess(self, access, inherit, pid):
        self.opened = (access, inherit, pid)
        return self.handle

    def GetLastError(self):
        return self.last_error

    def GetExitCodeProcess(self, handle, ref):
        ctypes.cast(ref, ctypes.POINTER(ctypes.c_ulong)).contents.value = self.exit_code
        return 1

    def CloseHandle(self, handle):
        self.closed.append(handle)


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
        platform_shim.lock_fd(platform_shim.LINUX, 3, fake)
        platform_shim.unlock_fd(platform_shim.LINUX, 3, fake)
        self.assertEqual(fake.calls, [FakeFcntl.LOCK_EX, FakeFcntl.LOCK_UN])

    def test_windows_locks_the_first_byte(self):
        fake = FakeMsvcrt()
        fd = temp_fd(self)
        platform_shim.lock_fd(platform_shim.WINDOWS, fd, fake)
        platform_shim.unlock_fd(platform_shim.WINDOWS, fd, fake)
        self.assertEqual(fake.calls, [(FakeMsvcrt.LK_LOCK, 1), (FakeMsvcrt.LK_UNLCK, 1)])

    def test_windows_retries_while_another_process_holds_it(self):
        fake = FakeMsvcrt([IOError(errno.EDEADLK, 'Resource deadlock avoided')] * 2)
        platform_shim.lock_fd(platform_shim.WINDOWS, temp_fd(self), fake)
        self.assertEqual(len(fake.calls), 3)

    def test_windows_gives_up_after_a_minute(self):
        error = IOError(errno.EDEADLK, 'Resource deadlock avoided')
        fake = FakeMsvcrt([error] * 6)
        with self.assertRaises(IOError):
            platform_shim.lock_fd(platform_shim.WINDOWS, temp_fd(self), fake)
        self.assertEqual(len(fake.calls), 6)

    def test_real_lock_here(self):
        fd = temp_fd(self)
        platform_shim.lock_fd(platform_shim.current(), fd)
        platform_shim.unlock_fd(platform_shim.current(), fd)


class LivenessTest(unittest.TestCase):

    def kill_raising(self, number):
        def kill(pid, sig):
            raise OSError(number, os.strerror(number))
        return kill

    def test_posix_gone_process(self):
        self.assertFalse(platform_shim.process_alive(
            platform_shim.MACOS, 42, kill=self.kill_raising(errno.ESRCH)))

    def test_posix_other_users_process_is_alive(self):
        self.assertTrue(platform_shim.process_alive(
            platform_shim.MACOS, 42, kill=self.kill_raising(errno.EPERM)))

    def test_linux_pid_reused_by_another_user_is_dead(self):
        stat = '42 (other) S 1 ' + ' '.join(['0'] * 17) + ' 999 0 0\n'
        self.assertFalse(platform_shim.process_alive(
            platform_shim.LINUX, 42, '777', kill=self.kill_raising(errno.EPERM),
            read_file=lambda path: stat))

    def test_pid_zero_and_negative_are_never_alive(self):
        for pid in (0, -1):
            self.assertFalse(platform_shim.process_alive(
                platform_shim.LINUX, pid, kill=lambda pid, sig: None))

    def test_linux_zombie_is_dead(self):
        stat = '42 (py thon) Z 1 ' + ' '.join(['0'] * 17) + ' 777 0 0\n'
        self.assertFalse(platform_shim.process_alive(
            platform_shim.LINUX, 42, kill=lambda pid, sig: None, read_file=lambda path: stat))

    def test_linux_reused_pid_is_dead(self):
        stat = '42 (python) S 1 ' + ' '.join(['0'] * 17) + ' 777 0 0\n'
        read = lambda path: stat  # noqa: E731
        self.assertEqual(platform_shim.process_start_marker(platform_shim.LINUX, 42, read), '777')
        self.assertTrue(platform_shim.process_alive(
            platform_shim.LINUX, 42, '777', kill=lambda pid, sig: None, read_file=read))
        self.assertFalse(platform_shim.process_alive(
            platform_shim.LINUX, 42, '555', kill=lambda pid, sig: None, read_file=read))

    def test_macos_has_no_start_marker(self):
        self.assertIsNone(platform_shim.process_start_marker(platform_shim.MACOS, os.getpid()))

    def test_windows_running_process(self):
        kernel32 = FakeKernel32(exit_code=259)
        self.assertTrue(platform_shim.process_alive(platform_shim.WINDOWS, 42,
                                                    kernel32=kernel32))
        self.assertEqual(kernel32.opened, (0x1000, False, 42))
        self.assertEqual(kernel32.closed, [7])

    def test_windows_exited_process(self):
        self.assertFalse(platform_shim.process_alive(platform_shim.WINDOWS, 42,
                                                     kernel32=FakeKernel32(exit_code=0)))

    def test_windows_no_such_process(self):
        self.assertFalse(platform_shim.process_alive(
            platform_shim.WINDOWS, 42, kernel32=FakeKernel32(handle=0, last_error=87)))

    def test_windows_access_denied_means_alive(self):
        self.assertTrue(platform_shim.process_alive(
            platform_shim.WINDOWS, 42, kernel32=FakeKernel32(handle=0, last_error=5)))

    def test_real_processes_here(self):
        platform = platform_shim.current()
        me = os.getpid()
        self.assertTrue(platform_shim.process_alive(
            platform, me, platform_shim.process_start_marker(platform, me)))
        child = subprocess.Popen([sys.executable, '-c', 'pass'])
        child.wait()
        self.assertFalse(platform_shim.process_alive(platform, child.pid))


class PrivateDirTest(unittest.TestCase):

    def test_descriptions(self):
        linux = platform_shim.LINUX
        lstat = lambda mode, uid: (lambda path: Stat(mode, uid))  # noqa: E731
        self.assertIsNone(platform_shim.private_dir_problem(linux, 'd', 0, lstat(0o40700, 0)))
        self.assertEqual(platform_shim.private_dir_problem(linux, 'd', 0, lstat(0o40700, 5)),
                         'is owned by uid 5, not by you (uid 0)')
        self.assertEqual(platform_shim.private_dir_problem(linux, 'd', 0, lstat(0o40777, 0)),
                         'is writable by group or others (mode 0777)')
        self.assertEqual(platform_shim.private_dir_problem(linux, 'd', 0, lstat(0o120777, 0)),
                         'is a symbolic link')
        self.assertEqual(platform_shim.private_dir_problem(linux, 'd', 0, lstat(0o100600, 0)),
                         'is not a directory')
        self.assertIsNone(platform_shim.private_dir_problem(
            platform_shim.WINDOWS, 'd', None, lstat(0o40777, 0)))

    def test_default_registry_dir(self):
        ok = lambda path: Stat(0o40700, 1000)  # noqa: E731
        self.assertEqual(platform_shim.default_registry_dir(
            platform_shim.WINDOWS, {'LOCALAPPDATA': r'C:\Users\me\AppData\Local'}, 'T', None),
            os.path.join(r'C:\Users\me\AppData\Local', 'testsupport'))
        self.assertEqual(platform_shim.default_registry_dir(
            platform_shim.LINUX, {'XDG_RUNTIME_DIR': '/run/user/1000'}, '/tmp', 1000, ok),
            '/run/user/1000/testsupport')
        self.assertEqual(platform_shim.default_registry_dir(
            platform_shim.LINUX, {'XDG_RUNTIME_DIR': '/run/user/1000'}, '/tmp', 1001, ok),
            '/tmp/testsupport-1001')
        self.assertEqual(platform_shim.default_registry_dir(
            platform_shim.MACOS, {}, '/var/folders/x/T', 501), '/var/folders/x/T/testsupport-501')

    def test_file_errors(self):
        self.assertTrue(platform_shim.is_file_exists_error(OSError(errno.EEXIST, 'exists')))
        self.assertTrue(platform_shim.is_file_missing_error(IOError(errno.ENOENT, 'missing')))
        self.assertFalse(platform_shim.is_file_exists_error(OSError(errno.ENOENT, 'missing')))



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
            platform_shim.create_file_exclusive(path, None)  # os.write() refuses it
        self.assertEqual(os.listdir(self.dir), [])
        self.assertEqual(fd_count(), before)

    @posix_devnull
    def test_rewrite_refuses_a_device(self):
        before = fd_count()
        with self.assertRaises(platform_shim.OddFileError) as cm:
            platform_shim.rewrite_file(os.devnull, b'1 - 2.0 0 process\n')
        self.assertIn('not a regular file', str(cm.exception))
        self.assertEqual(fd_count(), before)

    @posix_devnull
    def test_lock_file_that_is_a_device_is_refused(self):
        before = fd_count()
        with self.assertRaises(platform_shim.OddFileError) as cm:
            platform_shim.open_lock_file(os.devnull)
        self.assertIn('not a regular file', str(cm.exception))
        self.assertEqual(fd_count(), before)

    def test_remove_tree_of_a_regular_file_raises(self):
        path = os.path.join(self.dir, 'file')
        with open(path, 'w'):
            pass
        with self.assertRaises(EnvironmentError):
            platform_shim.remove_tree_quietly(path)
        platform_shim.remove_tree_quietly(os.path.join(self.dir, 'missing'))  # fine


class RegistryPlacesTest(unittest.TestCase):

    def test_fallback_registry_dir(self):
        self.assertIsNone(platform_shim.fallback_registry_dir(
            platform_shim.WINDOWS, {'HOME': '/home/me'}, 'box'))
        self.assertEqual(platform_shim.fallback_registry_dir(
            platform_shim.LINUX, {'XDG_CACHE_HOME': '/cache', 'HOME': '/home/me'}, 'box'),
            os.path.join('/cache', 'testsupport', 'ports-box'))
        self.assertEqual(platform_shim.fallback_registry_dir(
            platform_shim.MACOS, {'HOME': '/Users/me'}, ''),
            os.path.join('/Users/me', '.cache', 'testsupport', 'ports-localhost'))
        self.assertIsNone(platform_shim.fallback_registry_dir(platform_shim.LINUX, {}, 'box'))

    def test_missing_runtime_dir_gives_the_temp_directory(self):
        def missing(path):
            raise OSError(errno.ENOENT, 'No such file or directory')
        self.assertEqual(platform_shim.default_registry_dir(
            platform_shim.LINUX, {'XDG_RUNTIME_DIR': '/run/user/1000'}, '/tmp', 1000, missing),
            os.path.join('/tmp', 'testsupport-1000'))


class PeerAndProcessTest(unittest.TestCase):

    def test_peer_uid_where_the_platform_cannot_tell(self):
        sock = FakeSocket(family=1)
        self.assertIsNone(platform_shim.peer_uid(platform_shim.MACOS, sock))
        self.assertEqual(sock.calls, [])  # no SO_PEERCRED there: not even asked

    def test_peer_uid_when_the_option_fails(self):
        linux = platform_shim.LINUX
        sock = FakeSocket(family=1, options={
            (linux.sol_socket, linux.so_peercred): FakeSocketError(errno.ENOTCONN)})
        self.assertIsNone(platform_shim.peer_uid(linux, sock))

    def test_unreadable_proc_stat_gives_no_marker_and_pid_liveness(self):
        linux = platform_shim.LINUX
        for text in (None, 'garbage without a paren', '42 (python) S 1 42 42 0\n'):
            read = lambda path, text=text: text  # noqa: E731
            self.assertIsNone(platform_shim.process_start_marker(linux, 42, read))
            # kill(pid, 0) worked and /proc says nothing more: alive.
            self.assertTrue(platform_shim.process_alive(
                linux, 42, '777', kill=lambda pid, sig: None, read_file=read))

    def test_windows_exit_code_unreadable_means_alive(self):
        class NoExitCode(FakeKernel32):
            def GetExitCodeProcess(self, handle, ref):
                return 0
        kernel32 = NoExitCode()
        self.assertTrue(platform_shim.process_alive(platform_shim.WINDOWS, 42,
                                                    kernel32=kernel32))
        self.assertEqual(kernel32.closed, [7])


class WindowsRegistryTest(unittest.TestCase):
    """The allocator's registry as a Windows process runs it (fake msvcrt and liveness)."""

    def test_claim_take_over_and_release(self):
        directory = tempfile.mkdtemp(prefix='tsu-win-')
        self.addCleanup(shutil.rmtree, directory, True)
        clock = lambda: 1000.0  # noqa: E731
        msvcrt = FakeMsvcrt()
        alive = {}
        owner = _leases.FileStore(directory, platform_shim.WINDOWS, clock, 4242,
                                  alive=lambda pid, marker: alive[pid],
                                  start_marker=None, lock_module=msvcrt)
        other = _leases.FileStore(directory, platform_shim.WINDOWS, clock, 4343,
                                  alive=lambda pid, marker: alive[pid],
                                  start_marker=None, lock_module=msvcrt)
        handle = owner.acquire('b700', 2000.0)
        self.assertTrue(handle.token.startswith('4242 - 2000.0 '))
        alive[4242] = True
        self.assertIsNone(other.acquire('b700', 2000.0))
        alive[4242], alive[4343] = False, True
        self.assertIsNotNone(other.acquire('b700', 2000.0))
        self.assertFalse(owner.renew(handle, 3000.0))
        self.assertIn((FakeMsvcrt.LK_LOCK, 1), msvcrt.calls)
        self.assertEqual(sorted(os.listdir(directory)), ['.lock', 'b700.lease'])


if __name__ == '__main__':
    unittest.main()
