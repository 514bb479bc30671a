"""Tests for testsupport._leases: the lease stores (kernel names, files, memory).

Every test works in a namespace of its own: a KernelStore built with a random
namespace string, a FileStore on a temporary directory. Tests that need a
second user create one with ``useradd`` when running as root on Linux (removed
with ``userdel -r`` at cleanup) and are skipped, with the reason, otherwise.
"""
from __future__ import absolute_import, division, print_function

import binascii
import errno
import json
import os
import random
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest
import warnings

from testsupport import _leases, _system, allocator, platform_shim

from .helpers import fd_count

PLATFORM = platform_shim.current()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IS_ROOT = _system.user_id() == 0
KERNEL_NAMES = _leases.kernel_names_work(PLATFORM)
skip_unless_kernel_names = unittest.skipUnless(
    KERNEL_NAMES, 'requires abstract AF_UNIX names (Linux, not sandboxed)')
skip_unless_root = unittest.skipUnless(
    IS_ROOT and sys.platform.startswith('linux') and hasattr(os, 'fork'),
    'requires root on Linux (the test creates a second user with useradd)')
#: Longest wait for something that should take milliseconds.
DEADLINE = 20.0


def _namespace():
    return 'test-%016x' % random.getrandbits(64)


def _temp_dir(testcase):
    path = tempfile.mkdtemp(prefix='testsupport-leases-')
    testcase.addCleanup(shutil.rmtree, path, True)
    return path


def _wait_until(condition, what, timeout=DEADLINE):
    """Poll *condition* until it is true; AssertionError naming *what* after *timeout*."""
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise AssertionError('still not %s after %.0f s' % (what, timeout))
        time.sleep(0.01)


def _run_python(testcase, code, args=(), timeout=DEADLINE, preexec_fn=None):
    """Run *code* in a fresh interpreter; its stdout parsed as JSON. Fails on a hang."""
    proc = subprocess.Popen([sys.executable, '-c', code, ROOT] + list(args),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=preexec_fn)
    deadline = time.time() + timeout
    while proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    if proc.poll() is None:
        proc.kill()
        proc.communicate()
        testcase.fail('the child hung for %.0f s: %s' % (timeout, code))
    out, err = proc.communicate()
    testcase.assertEqual(proc.returncode, 0, err.decode('utf-8', 'replace'))
    return json.loads(out.decode('ascii'))


def _gone(pid):
    """True if process *pid* has exited (a zombie counts as gone)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] in ('Z', 'X')
    except (IOError, OSError):
        return True


def _holders(store):
    """Pids of the processes other than this one holding names of the KernelStore *store*."""
    prefix = '@' + store.address('')[1:].decode('ascii')  # /proc/net/unix shows NUL as @
    inodes = set()
    with open('/proc/net/unix') as table:
        for line in table:
            fields = line.split()
            if len(fields) >= 8 and fields[7].startswith(prefix):
                inodes.add('socket:[%s]' % fields[6])
    pids = set()
    for entry in os.listdir('/proc'):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            fds = os.listdir('/proc/%s/fd' % entry)
            if any(os.readlink('/proc/%s/fd/%s' % (entry, fd)) in inodes for fd in fds):
                pids.add(int(entry))
        except (IOError, OSError):
            continue
    return pids


def _kill_holders(store):
    for pid in _holders(store):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _make_user(testcase):
    """A throwaway user (uid, gid), removed with ``userdel -r`` at cleanup."""
    import pwd
    name = 'tsl%08x' % random.getrandbits(32)
    subprocess.check_call(['useradd', '-m', '-s', '/bin/sh', name])
    testcase.addCleanup(_quietly, ['userdel', '-r', name])
    entry = pwd.getpwnam(name)
    return entry.pw_uid, entry.pw_gid


def _read(path):
    with open(path) as f:
        return f.read()


def _quietly(argv):
    with open(os.devnull, 'wb') as devnull:
        return subprocess.call(argv, stdout=devnull, stderr=devnull)


def _fork_as(testcase, uid, gid, body):
    """Run *body()* in a forked child as *uid*; return the bytes it returns.

    The child then waits until it is killed (SIGKILL at cleanup, or by the test
    through the returned pid): anything it holds stays held meanwhile.
    Returns ``(pid, result)``.
    """
    report_r, report_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into the test runner
        try:
            os.close(report_r)
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            result = body()
            os.write(report_w, result + b'\n')
            os.close(report_w)
            while True:
                signal.pause()
        except BaseException:
            os._exit(1)
        os._exit(0)
    os.close(report_w)
    testcase.addCleanup(_reap, pid)
    with os.fdopen(report_r, 'rb') as report:
        result = report.readline().rstrip(b'\n')
    return pid, result


def _reap(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        os.waitpid(pid, 0)
    except OSError:
        pass


# -- kernel names ---------------------------------------------------------------

_HOLD_CODE = '''
import binascii, socket, sys
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.bind(binascii.unhexlify(sys.argv[2]))
sys.stdout.write("ready\\n")
sys.stdout.flush()
sys.stdin.read()
'''


@skip_unless_kernel_names
class KernelStoreTest(unittest.TestCase):

    def setUp(self):
        self.store = _leases.KernelStore(PLATFORM, _namespace())

    def acquire(self, name, store=None):
        store = store or self.store
        handle = store.acquire(name, time.time() + 60)
        if handle is not None:
            self.addCleanup(store.release, handle)
        return handle

    def test_acquire_held_release(self):
        self.assertFalse(self.store.held('b1'))
        handle = self.acquire('b1')
        self.assertIsNotNone(handle)
        self.assertTrue(self.store.held('b1'))
        self.assertIsNone(self.store.acquire('b1', time.time() + 60))
        self.assertTrue(self.store.renew(handle, time.time() + 120))
        self.store.release(handle)
        self.assertFalse(self.store.held('b1'))
        self.assertFalse(self.store.renew(handle, time.time() + 180))
        self.store.release(handle)  # twice is fine
        self.assertIsNotNone(self.acquire('b1'))

    def test_namespaces_are_apart(self):
        other = _leases.KernelStore(PLATFORM, _namespace())
        self.assertIsNotNone(self.acquire('b7'))
        self.assertFalse(other.held('b7'))
        self.assertIsNotNone(self.acquire('b7', other))

    def test_acquire_release_keeps_fd_count(self):
        self.store.release(self.store.acquire('warm-up', time.time() + 60))
        before = fd_count()
        for index in range(50):
            handle = self.store.acquire('n%d' % index, time.time() + 60)
            self.store.held('n%d' % index)
            self.store.held('free%d' % index)
            self.store.release(handle)
        self.assertEqual(fd_count(), before)

    def test_name_of_another_process_is_refused_until_it_is_killed(self):
        address = binascii.hexlify(self.store.address('b3')).decode('ascii')
        child = subprocess.Popen([sys.executable, '-c', _HOLD_CODE, ROOT, address],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.addCleanup(child.stdout.close)
        self.addCleanup(child.stdin.close)
        self.addCleanup(_reap, child.pid)
        self.assertEqual(child.stdout.readline(), b'ready\n')
        self.assertIsNone(self.store.acquire('b3', time.time() + 60))
        self.assertTrue(self.store.held('b3'))
        child.kill()
        child.wait()
        # The kernel freed the name when the process died: no wait, no cleanup.
        self.assertFalse(self.store.held('b3'))
        self.assertIsNotNone(self.acquire('b3'))

    @skip_unless_root
    def test_name_of_another_user_is_refused(self):
        uid, gid = _make_user(self)
        address = self.store.address('b5')

        kept = []

        def hold():
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            kept.append(sock)  # held until the child is killed
            sock.bind(address)
            return b'%d' % os.getuid()
        pid, result = _fork_as(self, uid, gid, hold)
        self.assertEqual(result, str(uid).encode('ascii'))
        self.assertIsNone(self.store.acquire('b5', time.time() + 60))
        self.assertTrue(self.store.held('b5'))
        _reap(pid)
        self.assertIsNotNone(self.acquire('b5'))

    @skip_unless_root
    def test_another_network_namespace_binds_the_same_name(self):
        try:
            subprocess.check_call(['unshare', '-n', 'true'])
        except (OSError, subprocess.CalledProcessError) as exc:
            self.skipTest('requires unshare -n: %s' % (exc,))
        self.assertIsNotNone(self.acquire('b9'))
        address = binascii.hexlify(self.store.address('b9')).decode('ascii')
        code = ('import binascii, socket, sys; s = socket.socket(socket.AF_UNIX); '
                's.bind(binascii.unhexlify(sys.argv[1])); print("bound")')
        out = subprocess.check_output(['unshare', '-n', sys.executable, '-c', code, address])
        self.assertEqual(out.strip(), b'bound')

    def test_fd_exhaustion_is_an_error_not_a_free_name(self):
        # In a child whose descriptor limit is used up: acquire raises the
        # error the platform calls fd-exhausted, held() says held (it cannot
        # tell), and the kernel store is still chosen (no fallback to files).
        code = '''
import json, os, resource, sys, time
sys.path.insert(0, sys.argv[1])
from testsupport import _leases, platform_shim
platform = platform_shim.current()
store = _leases.KernelStore(platform, sys.argv[2])
resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
fds = []
try:
    while True:
        fds.append(os.open(os.devnull, os.O_RDONLY))
except OSError:
    pass
out = {}
try:
    store.acquire('b1', time.time() + 60)
    out['acquire'] = 'returned'
except Exception as exc:
    out['acquire'] = 'raised'
    out['fd_exhausted'] = platform.is_fd_exhausted(exc)
out['held'] = store.held('b1')
out['kernel_names_work'] = _leases.kernel_names_work(platform)
out['store'] = _leases.open_store({}, platform, '/nonexistent', False, time.time, os.getpid(),
                                  0, '/tmp').kind
for fd in fds:
    os.close(fd)
out['after'] = store.held('b1')
print(json.dumps(out))
'''
        out = _run_python(self, code, [self.store.namespace])
        self.assertEqual(out, {'acquire': 'raised', 'fd_exhausted': True, 'held': True,
                               'kernel_names_work': True, 'store': 'kernel',
                               'after': False})


# -- the file registry -------------------------------------------------------------

#: Judges entries in a child: no hang (the parent's deadline), bounded memory
#: (the address space is capped 128 MiB above what the child uses at start).
_JUDGE_CODE = '''
import json, os, resource, sys, time
sys.path.insert(0, sys.argv[1])
from testsupport import _leases, platform_shim
with open('/proc/self/status') as f:
    size = [int(l.split()[1]) * 1024 for l in f if l.startswith('VmSize')][0]
resource.setrlimit(resource.RLIMIT_AS, (size + 128 * 2 ** 20, resource.RLIM_INFINITY))
store = _leases.FileStore(sys.argv[2], platform_shim.current(), time.time, os.getpid())
out = {}
for name in sys.argv[3:]:
    out[name] = {'judge': store.judge(name)[0]}
    handle = store.acquire(name, time.time() + 60)
    out[name]['acquired'] = handle is not None
    out[name]['ours'] = False
    if handle is not None:
        with open(os.path.join(sys.argv[2], name + '.lease'), 'rb') as f:
            out[name]['ours'] = f.read().decode('ascii') == handle.token
print(json.dumps(out))
'''


#: Takes two detached file leases as the port command does, hands them on
#: (Keeper.hold) if told, and dies without cleaning up.
_DETACH_CODE = '''
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
from testsupport import _holder, _leases, platform_shim
store = _leases.FileStore(sys.argv[2], platform_shim.current(), time.time, os.getpid())
until = time.time() + 600
handles = [store.acquire(name, until, detached=True) for name in ('p1', 'p2')]
if sys.argv[3] == 'yes':
    _holder.Keeper(store, handles, until).hold()
sys.stdout.write(json.dumps(['p1', 'p2']))
sys.stdout.flush()
os._exit(0)
'''


class FileStoreTest(unittest.TestCase):

    def setUp(self):
        self.dir = _temp_dir(self)
        self.store = self.file_store()

    def file_store(self, **kwargs):
        return _leases.FileStore(self.dir, PLATFORM, time.time, os.getpid(), **kwargs)

    def path(self, name):
        return os.path.join(self.dir, name + '.lease')

    def write(self, name, text, age=0):
        with open(self.path(name), 'wb') as f:
            f.write(text.encode('ascii') if not isinstance(text, bytes) else text)
        if age:
            then = time.time() - age
            os.utime(self.path(name), (then, then))

    def entry(self, pid=None, marker='-', expiry=None, kind='process'):
        return '%s %s %s 0123456789abcdef %s\n' % (
            os.getpid() if pid is None else pid, marker,
            time.time() + 60 if expiry is None else expiry, kind)

    def judge_in_child(self, *names):
        """Judge and try to acquire *names* in a child; also checks 'control' is acquirable."""
        out = _run_python(self, _JUDGE_CODE, [self.dir] + list(names) + ['control'])
        self.assertEqual(out.pop('control'), {'judge': 'free', 'acquired': True, 'ours': True})
        return out

    def test_acquire_held_renew_release(self):
        handle = self.store.acquire('b1', time.time() + 60)
        self.assertIsNotNone(handle)
        self.assertEqual(stat.S_IMODE(os.lstat(self.path('b1')).st_mode), 0o600)
        self.assertTrue(self.store.held('b1'))
        self.assertIsNone(self.store.acquire('b1', time.time() + 60))
        self.assertTrue(self.store.renew(handle, time.time() + 120))
        self.store.release(handle)
        self.assertFalse(os.path.exists(self.path('b1')))
        self.assertFalse(self.store.held('b1'))

    def test_entry_expires_exactly_when_the_handle_does(self):
        # The entry must never end before the handle's lease: '%.3f' rounded down.
        expiry = 1e9 + 0.0004
        handle = self.store.acquire('b2', expiry)
        self.addCleanup(self.store.release, handle)
        fields = _read(self.path('b2')).split()
        self.assertGreaterEqual(float(fields[2]), handle.expiry)

    def test_release_after_takeover_leaves_the_new_holder(self):
        clock = [1000.0]
        mine = _leases.FileStore(self.dir, PLATFORM, lambda: clock[0], os.getpid())
        handle = mine.acquire('b3', 1010.0)
        clock[0] = 1020.0
        other = _leases.FileStore(self.dir, PLATFORM, lambda: clock[0], os.getpid())
        newer = other.acquire('b3', 1080.0)
        self.assertIsNotNone(newer)
        self.assertFalse(mine.renew(handle, 1100.0))
        mine.release(handle)
        self.assertEqual(_read(self.path('b3')), newer.token)

    def test_fifo_entry_neither_hangs_nor_blocks_other_names(self):
        os.mkfifo(self.path('fifo'))
        self.assertEqual(self.judge_in_child('fifo'),
                         {'fifo': {'judge': 'held', 'acquired': False, 'ours': False}})
        self.assertTrue(stat.S_ISFIFO(os.lstat(self.path('fifo')).st_mode))

    def test_symlink_to_dev_zero_is_not_followed(self):
        os.symlink('/dev/zero', self.path('zero'))
        self.assertEqual(self.judge_in_child('zero'),
                         {'zero': {'judge': 'held', 'acquired': False, 'ours': False}})
        self.assertEqual(os.readlink(self.path('zero')), '/dev/zero')

    def test_symlink_to_a_file_is_not_followed(self):
        # The target looks like an expired entry: following the link would
        # judge it stale and overwrite the target.
        target = os.path.join(_temp_dir(self), 'target')
        text = self.entry(expiry=1.0)
        with open(target, 'w') as f:
            f.write(text)
        os.symlink(target, self.path('link'))
        self.assertEqual(self.judge_in_child('link'),
                         {'link': {'judge': 'held', 'acquired': False, 'ours': False}})
        self.assertEqual(_read(target), text)

    def test_dangling_symlink_is_not_followed(self):
        target = os.path.join(self.dir, 'elsewhere')
        os.symlink(target, self.path('dangling'))
        self.assertEqual(self.judge_in_child('dangling'),
                         {'dangling': {'judge': 'held', 'acquired': False, 'ours': False}})
        self.assertFalse(os.path.exists(target))

    def test_directory_entry_takes_only_its_name(self):
        os.mkdir(self.path('dir'))
        self.assertEqual(self.judge_in_child('dir'),
                         {'dir': {'judge': 'held', 'acquired': False, 'ours': False}})

    def test_huge_sparse_entry_is_not_read(self):
        with open(self.path('huge'), 'wb') as f:
            f.truncate(300 * 2 ** 20)  # sparse: no disk space used
        # The child's address space is capped 128 MiB above its start: reading
        # the entry whole would raise MemoryError there.
        self.assertEqual(self.judge_in_child('huge'),
                         {'huge': {'judge': 'held', 'acquired': False, 'ours': False}})

    @unittest.skipIf(IS_ROOT, 'root reads mode-000 files: the entry would be readable')
    def test_unreadable_entry_takes_only_its_name(self):
        self.write('locked', self.entry(expiry=1.0), age=3600)
        os.chmod(self.path('locked'), 0)
        self.assertEqual(self.judge_in_child('locked'),
                         {'locked': {'judge': 'held', 'acquired': False, 'ours': False}})

    def test_corrupt_entries(self):
        # pid <= 0, a pid beyond any pid_t, NaN and non-finite expiries, garbage:
        # corrupt. Young (maybe being written): held; old: taken over.
        bad = {
            'pid0': self.entry(pid=0),
            'pidneg': self.entry(pid=-1),
            'pidhuge': self.entry(pid=2 ** 40),
            'nan': self.entry(expiry='nan'),
            'inf': self.entry(expiry='inf'),
            'e400': self.entry(expiry='1e400'),
            'distant': self.entry(expiry=time.time() + 1e9, kind='detached'),
            'garbage': b'\x00\xff garbage \x80\n' * 3,
            'empty': b'',
        }
        for name, text in sorted(bad.items()):
            self.write(name, text)
            self.write(name + 'old', text, age=3600)
        out = self.judge_in_child(*sorted(n + s for n in bad for s in ('', 'old')))
        for name in bad:
            self.assertEqual(out[name], {'judge': 'held', 'acquired': False, 'ours': False},
                             name)
            self.assertEqual(out[name + 'old'],
                             {'judge': 'stale', 'acquired': True, 'ours': True}, name)

    def test_dead_owner_and_expiry(self):
        dead = subprocess.Popen([sys.executable, '-c', 'pass'])
        dead.wait()
        self.write('dead', self.entry(pid=dead.pid))
        self.write('expired', self.entry(expiry=time.time() - 1))
        self.write('detached', self.entry(pid=dead.pid, kind='detached'))
        self.write('live', self.entry())
        self.assertEqual(self.store.judge('dead')[0], 'stale')
        self.assertEqual(self.store.judge('expired')[0], 'stale')
        self.assertEqual(self.store.judge('detached')[0], 'held')  # outlives its process
        self.assertEqual(self.store.judge('live')[0], 'held')

    def reused_pid_store(self, kill=None):
        """A live process, and a FileStore judging liveness through *kill*."""
        child = subprocess.Popen([sys.executable, '-c', 'import sys; sys.stdin.read()'],
                                 stdin=subprocess.PIPE)
        self.addCleanup(child.wait)
        self.addCleanup(child.stdin.close)
        marker = _system.process_start_marker(PLATFORM, child.pid)
        if marker is None:
            self.skipTest('requires process start times (Linux /proc)')
        store = self.file_store(alive=lambda pid, m: _system.process_alive(
            PLATFORM, pid, m, kill=kill))
        return child.pid, marker, store

    def test_reused_pid_is_stale_at_once(self):
        pid, marker, store = self.reused_pid_store()
        self.write('same', self.entry(pid=pid, marker=marker))
        self.write('reused', self.entry(pid=pid, marker=str(int(marker) - 1)))
        self.assertEqual(store.judge('same')[0], 'held')
        self.assertEqual(store.judge('reused')[0], 'stale')
        self.assertIsNotNone(store.acquire('reused', time.time() + 60))

    def test_reused_pid_of_another_user_is_stale_at_once(self):
        # kill() gives EPERM for another user's process: the start time still tells.
        def eperm(pid, sig):
            raise OSError(errno.EPERM, 'Operation not permitted')
        pid, marker, store = self.reused_pid_store(kill=eperm)
        self.write('same', self.entry(pid=pid, marker=marker))
        self.write('reused', self.entry(pid=pid, marker=str(int(marker) + 1)))
        self.assertEqual(store.judge('same')[0], 'held')
        self.assertEqual(store.judge('reused')[0], 'stale')

    def test_symlinked_lock_is_not_followed_and_takeovers_fail_safe(self):
        target = os.path.join(_temp_dir(self), 'target')
        with open(target, 'w') as f:
            f.write('keep me\n')
        os.symlink(target, os.path.join(self.dir, '.lock'))
        self.write('expired', self.entry(expiry=1.0))
        self.assertEqual(self.store.judge('expired')[0], 'stale')
        self.assertIsNone(self.store.acquire('expired', time.time() + 60))  # no lock: no takeover
        self.assertEqual(_read(target), 'keep me\n')
        handle = self.store.acquire('fresh', time.time() + 60)  # O_EXCL needs no lock
        self.assertIsNotNone(handle)
        os.remove(target)  # dangling now: opening it must not create the target
        self.store.release(handle)
        self.assertFalse(os.path.exists(target))
        self.assertTrue(os.path.islink(os.path.join(self.dir, '.lock')))

    def test_old_temporary_files_are_removed_when_a_store_opens(self):
        self.write('old', 'x')
        os.rename(self.path('old'), os.path.join(self.dir, 'b1.lease.1234.tmp'))
        then = time.time() - 3600
        os.utime(os.path.join(self.dir, 'b1.lease.1234.tmp'), (then, then))
        with open(os.path.join(self.dir, 'b2.lease.5678.tmp'), 'w'):
            pass  # young: maybe being written right now
        self.file_store()
        self.assertEqual(sorted(os.listdir(self.dir)), ['b2.lease.5678.tmp'])

    def test_detached_entries_of_a_process_killed_before_hold_are_stale(self):
        # The port command killed between leasing and handing its ports on
        # must leave nothing held; once handed on, they outlive it.
        out = _run_python(self, _DETACH_CODE, [self.dir, 'no'])
        self.assertEqual([self.store.judge(name)[0] for name in out], ['stale', 'stale'])
        out = _run_python(self, _DETACH_CODE, [self.dir, 'yes'])
        self.assertEqual([self.store.judge(name)[0] for name in out], ['held', 'held'])
        self.assertTrue(self.store.release_detached(out[0]))
        self.assertEqual(self.store.judge(out[0])[0], 'free')

    def test_failed_write_leaves_no_entry(self):
        # A full disk (here: RLIMIT_FSIZE 0, EFBIG) must not leave an empty
        # entry that takes the name out.
        code = '''
import json, os, resource, signal, sys, time
sys.path.insert(0, sys.argv[1])
from testsupport import _leases, platform_shim
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))
store = _leases.FileStore(sys.argv[2], platform_shim.current(), time.time, os.getpid())
try:
    store.acquire('b1', time.time() + 60)
    out = 'returned'
except EnvironmentError as exc:
    out = exc.errno
print(json.dumps([out, os.listdir(sys.argv[2])]))
'''
        self.assertEqual(_run_python(self, code, [self.dir]), [errno.EFBIG, []])


class MemoryStoreTest(unittest.TestCase):

    def test_names_are_held_until_release_or_expiry(self):
        clock = [100.0]
        store = _leases.MemoryStore(lambda: clock[0])
        handle = store.acquire('b1', 110.0)
        self.assertTrue(store.held('b1'))
        self.assertIsNone(store.acquire('b1', 120.0))
        store.release(handle)
        self.assertFalse(store.held('b1'))
        handle = store.acquire('b1', 110.0)
        clock[0] = 111.0
        self.assertFalse(store.held('b1'))
        newer = store.acquire('b1', 200.0)
        self.assertFalse(store.renew(handle, 300.0))
        store.release(handle)  # a late release leaves the newer lease alone
        self.assertTrue(store.held('b1'))
        self.assertTrue(store.renew(newer, 300.0))


# -- choosing a store ------------------------------------------------------------------

class OpenStoreTest(unittest.TestCase):

    def setUp(self):
        self.parent = _temp_dir(self)  # stands for /tmp
        self.default = os.path.join(self.parent, 'testsupport-%s' % _system.user_id())
        self.home = _temp_dir(self)
        self.environ = {'HOME': self.home, _leases.BACKEND_ENV_VAR: 'files'}

    def open(self, private=False, directory=None):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            store = _leases.open_store(self.environ, PLATFORM, directory or self.default,
                                       private, time.time, os.getpid(),
                                       _system.user_id(), self.parent)
        return store, [w for w in caught if issubclass(w.category, allocator.PortRegistryWarning)]

    def fallback(self):
        return _system.fallback_registry_dir(PLATFORM, self.environ,
                                                   _system.host_name())

    def assertMoved(self, why):
        store, caught = self.open()
        self.assertEqual(store.kind, 'files')
        self.assertEqual(store.directory, self.fallback())
        self.assertTrue(store.directory.startswith(self.home + os.sep))
        self.assertEqual(len(caught), 1, [str(w.message) for w in caught])
        message = str(caught[0].message)
        self.assertIn(repr(self.default), message)
        self.assertIn(repr(self.fallback()), message)
        self.assertIn(why, message)
        # Again in this process: the same fallback, no second warning.
        store, caught = self.open()
        self.assertEqual((store.directory, caught), (self.fallback(), []))

    def test_default_is_used_when_private(self):
        store, caught = self.open()
        self.assertEqual((store.kind, store.directory, caught), ('files', self.default, []))
        self.assertEqual(stat.S_IMODE(os.lstat(self.default).st_mode), 0o700)

    @unittest.skipIf(sys.platform == 'win32', 'POSIX modes')
    def test_squatted_default_0777_moves_home(self):
        os.mkdir(self.default)
        os.chmod(self.default, 0o777)
        if IS_ROOT:
            os.chown(self.default, 54321, 54321)
            self.assertMoved('is owned by uid 54321')
        else:
            self.assertMoved('is writable by group or others (mode 0777)')

    @skip_unless_root
    def test_squatted_default_0700_of_another_user_moves_home(self):
        os.mkdir(self.default, 0o700)
        os.chown(self.default, 54321, 54321)
        self.assertMoved('is owned by uid 54321, not by you (uid 0)')

    @unittest.skipUnless(hasattr(os, 'symlink'), 'requires symbolic links')
    def test_squatted_default_symlink_moves_home(self):
        elsewhere = _temp_dir(self)
        os.chmod(elsewhere, 0o700)
        os.symlink(elsewhere, self.default)
        self.assertMoved('is a symbolic link')
        self.assertEqual(os.listdir(elsewhere), [])

    @unittest.skipUnless(hasattr(os, 'symlink'), 'requires symbolic links')
    def test_both_squatted_falls_back_to_memory_and_says_what_is_lost(self):
        os.symlink(self.parent, self.default)
        fallback = self.fallback()
        os.makedirs(os.path.dirname(fallback))
        os.symlink(self.parent, fallback)
        store, caught = self.open()
        self.assertEqual(store.kind, 'memory')
        self.assertEqual(len(caught), 1, [str(w.message) for w in caught])
        message = str(caught[0].message)
        self.assertIn(repr(self.default), message)
        self.assertIn(repr(fallback), message)
        self.assertIn('is a symbolic link', message)
        self.assertIn('OTHER PROCESSES MAY BE HANDED THE SAME PORTS', message)
        self.assertIn('set TESTSUPPORT_PORT_REGISTRY to a directory only you can write', message)

    def test_relative_xdg_cache_home_is_ignored(self):
        self.environ['XDG_CACHE_HOME'] = 'relative-cache'
        self.assertEqual(self.fallback(), os.path.join(
            self.home, '.cache', 'testsupport', 'ports-%s' % (_system.host_name()
                                                              or 'localhost')))
        self.environ['HOME'] = 'relative-home'
        self.assertIsNone(self.fallback())

    def test_private_registry_does_not_move(self):
        os.mkdir(self.default)
        os.chmod(self.default, 0o777)
        store, caught = self.open(private=True)
        self.assertEqual(store.kind, 'memory')
        self.assertEqual(len(caught), 1)
        self.assertNotIn(self.home, str(caught[0].message))

    def test_bogus_backend_names_the_variable_and_the_choices(self):
        self.environ[_leases.BACKEND_ENV_VAR] = 'bogus'
        with self.assertRaises(ValueError) as cm:
            self.open()
        message = str(cm.exception)
        for text in ("TESTSUPPORT_PORT_BACKEND is 'bogus'", '"kernel"', '"files"', '"memory"'):
            self.assertIn(text, message)

    def test_memory_backend(self):
        self.environ[_leases.BACKEND_ENV_VAR] = 'memory'
        store, caught = self.open()
        self.assertEqual((store.kind, caught), ('memory', []))

    @skip_unless_kernel_names
    def test_private_registry_gives_the_kernel_store_its_own_namespace(self):
        del self.environ[_leases.BACKEND_ENV_VAR]
        store, _ = self.open(private=True, directory=self.home)
        shared, _ = self.open(private=False)
        other, _ = self.open(private=True, directory=self.parent)
        self.assertEqual(store.kind, 'kernel')
        self.assertEqual(store.namespace, _leases.namespace_of(self.home))
        self.assertEqual(shared.namespace, '')
        self.assertNotEqual(other.namespace, store.namespace)
        self.assertEqual(_leases.namespace_of(self.home + os.sep + '.'), store.namespace)
        handle = store.acquire('b1', time.time() + 60)
        self.addCleanup(store.release, handle)
        self.assertFalse(other.held('b1'))



# -- error paths and fall-backs, in this process ----------------------------------------

class FailingLock(object):
    """A lock module (fcntl's shape) whose flock() fails, as on a filesystem without locks."""

    LOCK_EX = 2
    LOCK_UN = 8

    def flock(self, fd, operation):
        raise IOError(errno.ENOLCK, 'No locks available')


class KernelStoreErrorsTest(unittest.TestCase):

    @skip_unless_kernel_names
    def test_bind_error_other_than_a_taken_name_propagates(self):
        store = _leases.KernelStore(PLATFORM, _namespace())
        before = fd_count()
        with self.assertRaises(EnvironmentError):
            store.acquire('n' * 200, time.time() + 60)  # longer than an AF_UNIX address
        self.assertEqual(fd_count(), before)
        self.assertTrue(store.held('n' * 200))  # cannot tell: assumed held

    @skip_unless_kernel_names
    def test_probe_name_taken_still_means_kernel_names_work(self):
        probe = _leases.KernelStore(PLATFORM, 'probe')
        handle = probe.acquire('%d' % os.getpid(), 0.0)
        self.assertIsNotNone(handle)
        self.addCleanup(probe.release, handle)
        self.assertTrue(_leases.kernel_names_work(PLATFORM))

    def test_platforms_without_kernel_names(self):
        self.assertFalse(_leases.kernel_names_work(platform_shim.MACOS))
        self.assertFalse(_leases.kernel_names_work(PLATFORM.replace(af_unix=None)))


class FileStoreErrorsTest(unittest.TestCase):

    def setUp(self):
        self.dir = _temp_dir(self)

    def store(self, **kwargs):
        return _leases.FileStore(self.dir, PLATFORM, time.time, os.getpid(), **kwargs)

    def path(self, name):
        return os.path.join(self.dir, name + '.lease')

    def test_missing_directory_opens_and_is_described(self):
        missing = os.path.join(self.dir, 'not-yet')
        store = _leases.FileStore(missing, PLATFORM, time.time, os.getpid())
        self.assertEqual(store.describe(), 'files (%s)' % missing)
        with self.assertRaises(EnvironmentError) as cm:
            store.acquire('b1', time.time() + 60)  # not EEXIST: propagates
        self.assertEqual(cm.exception.errno, errno.ENOENT)

    def test_start_marker_is_written_into_the_entry(self):
        handle = self.store(start_marker='4242').acquire('b1', time.time() + 60)
        self.assertEqual(_read(self.path('b1')).split()[:2], [str(os.getpid()), '4242'])
        self.assertEqual(handle.token, _read(self.path('b1')))

    def test_renew_to_an_earlier_expiry_keeps_the_entry(self):
        store = self.store()
        handle = store.acquire('b1', time.time() + 60)
        before = _read(self.path('b1'))
        self.assertTrue(store.renew(handle, time.time() + 30))
        self.assertEqual(_read(self.path('b1')), before)

    def test_pid_that_is_not_a_number_is_corrupt(self):
        store = self.store()
        with open(self.path('young'), 'w') as f:
            f.write('abc - %r 0123456789abcdef process\n' % (time.time() + 60))
        self.assertEqual(store.judge('young')[0], 'held')  # maybe being written
        os.utime(self.path('young'), (1.0, 1.0))
        self.assertEqual(store.judge('young')[0], 'stale')

    @unittest.skipUnless(hasattr(os, 'symlink'), 'requires symbolic links')
    def test_entry_replaced_by_a_link_during_takeover_is_not_followed(self):
        target = os.path.join(_temp_dir(self), 'target')
        with open(target, 'w') as f:
            f.write('keep me\n')
        path = self.path('b1')
        with open(path, 'w') as f:
            f.write('%d - 1.0 0123456789abcdef process\n' % os.getpid())  # expired
        calls = []

        def clock():
            # judge() reads the clock after reading the entry: at the second
            # judge (under the lock), another process swaps in a symlink.
            calls.append(1)
            if len(calls) == 2:
                os.remove(path)
                os.symlink(target, path)
            return time.time()
        store = _leases.FileStore(self.dir, PLATFORM, clock, os.getpid())
        del calls[:]
        self.assertIsNone(store.acquire('b1', time.time() + 60))
        self.assertEqual(_read(target), 'keep me\n')
        self.assertTrue(os.path.islink(path))

    def test_failing_lock_closes_its_descriptor_and_propagates(self):
        store = self.store(lock_module=FailingLock())
        handle = store.acquire('b1', time.time() + 60)  # O_EXCL: no lock needed
        before = fd_count()
        with self.assertRaises(EnvironmentError) as cm:
            store.release(handle)
        self.assertEqual(cm.exception.errno, errno.ENOLCK)
        self.assertEqual(fd_count(), before)
        self.assertTrue(store.held('b1'))


class OpenStoreFallbackTest(unittest.TestCase):

    def setUp(self):
        _leases._warned.clear()
        self.addCleanup(_leases._warned.clear)
        self.base = _temp_dir(self)

    def open(self, environ, platform, directory, private):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            store = _leases.open_store(environ, platform, directory, private, time.time,
                                       os.getpid(), _system.user_id(), self.base)
        return store, [str(w.message) for w in caught]

    def test_kernel_backend_without_kernel_names_uses_the_files(self):
        directory = os.path.join(self.base, 'registry')
        store, caught = self.open({_leases.BACKEND_ENV_VAR: 'kernel'},
                                  PLATFORM.replace(af_unix=None), directory, True)
        self.assertEqual((store.kind, store.directory), ('files', directory))
        self.assertEqual(len(caught), 1, caught)
        self.assertIn('cannot hold port leases as abstract AF_UNIX names; using the file '
                      'registry %r' % directory, caught[0])

    def test_directory_that_cannot_be_created_without_a_home_falls_back_to_memory(self):
        blocker = os.path.join(self.base, 'a-file')
        with open(blocker, 'w'):
            pass
        directory = os.path.join(blocker, 'registry')  # under a regular file: ENOTDIR
        store, caught = self.open({_leases.BACKEND_ENV_VAR: 'files'}, PLATFORM,
                                  directory, False)  # no HOME: no fallback directory
        self.assertEqual(store.kind, 'memory')
        self.assertEqual(len(caught), 1, caught)
        self.assertIn('%r cannot be created or inspected (' % directory, caught[0])

    def test_no_registry_is_the_shared_kernel_namespace(self):
        self.assertEqual(_leases.namespace_of(''), '')
        self.assertEqual(_leases.namespace_of(None), '')


# -- several processes on one file registry -------------------------------------------

_STRESS_CODE = '''
import json, os, random, sys, time
sys.path.insert(0, sys.argv[1])
from testsupport import _leases, platform_shim
store = _leases.FileStore(sys.argv[2], platform_shim.current(), time.time, os.getpid())
end = float(sys.argv[3])
holds = []
while time.time() < end:
    name = random.choice(('a', 'b', 'c'))
    handle = store.acquire(name, time.time() + 0.05)
    if handle is None:
        continue
    start = time.time()
    if random.random() < 0.3:  # left to expire: the next holder takes it over
        stop = handle.expiry
    else:
        stop = min(time.time(), handle.expiry)
        store.release(handle)
    if start < stop:  # else it expired before this process knew it had it
        holds.append((name, start, stop))
sys.stdout.write(json.dumps(holds) + '\\n')
sys.stdout.flush()
# A lease left to expire is this process's only while it lives (its entry is
# stale once it exits): stay alive until every process has stopped acquiring,
# so that each recorded lease really lasted until its expiry.
sys.stdin.read()
'''


class FileStoreProcessesTest(unittest.TestCase):

    def test_two_processes_never_hold_a_name_at_once(self):
        directory = _temp_dir(self)
        end = time.time() + 2.0
        children = [subprocess.Popen([sys.executable, '-c', _STRESS_CODE, ROOT, directory,
                                      repr(end)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
                    for _ in range(4)]
        reports = []
        try:
            # Each child reports once it stops acquiring, then waits for its
            # stdin to close: none exits (ending its leases early) while
            # another may still take a name.
            for child in children:
                reports.append(child.stdout.readline())
        finally:
            for child in children:
                child.stdin.close()
            for child in children:
                child.stdout.read()
                child.stdout.close()
                child.wait()
        self.assertEqual([child.returncode for child in children], [0] * 4)
        holds = []
        for report in reports:
            holds.extend(json.loads(report.decode('ascii')))
        for name in 'abc':
            spans = sorted((start, stop) for n, start, stop in holds if n == name)
            self.assertGreater(len(spans), 10, name)
            for (start1, stop1), (start2, stop2) in zip(spans, spans[1:]):
                self.assertLessEqual(stop1, start2, 'two holders of %r at once: [%r, %r] and '
                                     '[%r, %r]' % (name, start1, stop1, start2, stop2))


if __name__ == '__main__':
    unittest.main()
