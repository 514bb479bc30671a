"""Tests for testsupport._system: files, locks, liveness, private directories, process trees.

Windows and macOS are tested by description: platform_shim.WINDOWS (MACOS) with a fake
msvcrt, kernel32 or killpg; the Linux branch also runs against the real kernel.
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

from testsupport import _leases, _port_tables, _system, platform_shim
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


class LivenessTest(unittest.TestCase):

    def kill_raising(self, number):
        def kill(pid, sig):
            raise OSError(number, os.strerror(number))
        return kill

    def test_posix_gone_process(self):
        self.assertFalse(_system.process_alive(
            platform_shim.MACOS, 42, kill=self.kill_raising(errno.ESRCH)))

    def test_posix_other_users_process_is_alive(self):
        self.assertTrue(_system.process_alive(
            platform_shim.MACOS, 42, kill=self.kill_raising(errno.EPERM)))

    def test_linux_pid_reused_by_another_user_is_dead(self):
        stat = '42 (other) S 1 ' + ' '.join(['0'] * 17) + ' 999 0 0\n'
        self.assertFalse(_system.process_alive(
            platform_shim.LINUX, 42, '777', kill=self.kill_raising(errno.EPERM),
            read_file=lambda path: stat))

    def test_pid_zero_and_negative_are_never_alive(self):
        for pid in (0, -1):
            self.assertFalse(_system.process_alive(
                platform_shim.LINUX, pid, kill=lambda pid, sig: None))

    def test_linux_zombie_is_dead(self):
        stat = '42 (py thon) Z 1 ' + ' '.join(['0'] * 17) + ' 777 0 0\n'
        self.assertFalse(_system.process_alive(
            platform_shim.LINUX, 42, kill=lambda pid, sig: None, read_file=lambda path: stat))

    def test_linux_reused_pid_is_dead(self):
        stat = '42 (python) S 1 ' + ' '.join(['0'] * 17) + ' 777 0 0\n'
        read = lambda path: stat  # noqa: E731
        self.assertEqual(_system.process_start_marker(platform_shim.LINUX, 42, read), '777')
        self.assertTrue(_system.process_alive(
            platform_shim.LINUX, 42, '777', kill=lambda pid, sig: None, read_file=read))
        self.assertFalse(_system.process_alive(
            platform_shim.LINUX, 42, '555', kill=lambda pid, sig: None, read_file=read))

    def test_macos_has_no_start_marker(self):
        self.assertIsNone(_system.process_start_marker(platform_shim.MACOS, os.getpid()))

    def test_windows_running_process(self):
        kernel32 = FakeKernel32(exit_code=259)
        self.assertTrue(_system.process_alive(platform_shim.WINDOWS, 42,
                                                    kernel32=kernel32))
        self.assertEqual(kernel32.opened, (0x1000, False, 42))
        self.assertEqual(kernel32.closed, [7])

    def test_windows_exited_process(self):
        self.assertFalse(_system.process_alive(platform_shim.WINDOWS, 42,
                                                     kernel32=FakeKernel32(exit_code=0)))

    def test_windows_no_such_process(self):
        self.assertFalse(_system.process_alive(
            platform_shim.WINDOWS, 42, kernel32=FakeKernel32(handle=0, last_error=87)))

    def test_windows_access_denied_means_alive(self):
        self.assertTrue(_system.process_alive(
            platform_shim.WINDOWS, 42, kernel32=FakeKernel32(handle=0, last_error=5)))

    def test_real_processes_here(self):
        platform = platform_shim.current()
        me = os.getpid()
        self.assertTrue(_system.process_alive(
            platform, me, _system.process_start_marker(platform, me)))
        child = subprocess.Popen([sys.executable, '-c', 'pass'])
        child.wait()
        self.assertFalse(_system.process_alive(platform, child.pid))


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
            _system.remove_tree_quietly(path)
        _system.remove_tree_quietly(os.path.join(self.dir, 'missing'))  # fine


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
        self.assertIsNone(_system.peer_uid(platform_shim.MACOS, sock))
        self.assertEqual(sock.calls, [])  # no SO_PEERCRED there: not even asked

    def test_peer_uid_when_the_option_fails(self):
        linux = platform_shim.LINUX
        sock = FakeSocket(family=1, options={
            (linux.sol_socket, linux.so_peercred): FakeSocketError(errno.ENOTCONN)})
        self.assertIsNone(_system.peer_uid(linux, sock))

    def test_unreadable_proc_stat_gives_no_marker_and_pid_liveness(self):
        linux = platform_shim.LINUX
        for text in (None, 'garbage without a paren', '42 (python) S 1 42 42 0\n'):
            read = lambda path, text=text: text  # noqa: E731
            self.assertIsNone(_system.process_start_marker(linux, 42, read))
            # kill(pid, 0) worked and /proc says nothing more: alive.
            self.assertTrue(_system.process_alive(
                linux, 42, '777', kill=lambda pid, sig: None, read_file=read))

    def test_windows_exit_code_unreadable_means_alive(self):
        class NoExitCode(FakeKernel32):
            def GetExitCodeProcess(self, handle, ref):
                return 0
        kernel32 = NoExitCode()
        self.assertTrue(_system.process_alive(platform_shim.WINDOWS, 42,
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
        self.assertEqual(_system.process_tree(LINUX, 10, proc.read_file, proc.list_dir),
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
        self.assertEqual(_system.process_tree(LINUX, 10, proc.read_file, proc.list_dir),
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
        self.assertFalse(_system.signal_process_group(WINDOWS, self.ExitedProcess(),
                                                            False))

    def test_posix_unexpected_error_propagates(self):
        def killpg(pgid, sig):
            raise OSError(errno.EINVAL, 'Invalid argument')
        with self.assertRaises(OSError) as cm:
            _system.signal_process_group(LINUX, self.ExitedProcess(), True, killpg=killpg)
        self.assertEqual(cm.exception.errno, errno.EINVAL)


# Sample /proc/net lines as a little-endian (x86) Linux prints them.
