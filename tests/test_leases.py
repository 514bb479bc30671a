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
store = _leases.FileStore(sys.argv[2], platform_shim.current(), time.time)
out = {}
for name in sys.argv[3:]:
    out[name] = {'judge': store.judge(name)}
    handle = store.acquire(name, time.time() + 60)
    out[name]['acquired'] = handle is not None
    if handle is not None:
        store.release(handle)
print(json.dumps(out))
'''


#: Takes two detached file leases as the port command does, hands them on
#: (Keeper.hold) if told, and dies without cleaning up.
_DETACH_CODE = '''
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
from testsupport import _holder, _leases, platform_shim
store = _leases.FileStore(sys.argv[2], platform_shim.current(), time.time)
until = time.time() + 600
handles = [store.acquire(name, until, detached=True) for name in ('p1', 'p2')]
if sys.argv[3] == 'yes':
    _holder.Keeper(store, handles, until).hold()
sys.stdout.write(json.dumps(['p1', 'p2']))
sys.stdout.flush()
os._exit(0)
'''

#: Holds the entries named in argv[3:] of the FileStore on argv[2] (or, for
#: 'exclusive:NAME', flocks the file itself, as any program could) until stdin closes.
_LOCK_CODE = '''
import fcntl, os, sys, time
sys.path.insert(0, sys.argv[1])
from testsupport import _leases, platform_shim
store = _leases.FileStore(sys.argv[2], platform_shim.current(), time.time)
held = []
for name in sys.argv[3:]:
    if name.startswith('flock:'):
        fd = os.open(os.path.join(sys.argv[2], name[6:] + '.lease'), os.O_RDONLY | os.O_CREAT)
        fcntl.flock(fd, fcntl.LOCK_EX)
        held.append(fd)
    else:
        held.append(store.acquire(name, time.time() + 60))
sys.stdout.write('ready\\n')
sys.stdout.flush()
sys.stdin.read()
'''


class FileStoreTest(unittest.TestCase):

    def setUp(self):
        self.dir = _temp_dir(self)
        self.store = self.file_store()

    def file_store(self, **kwargs):
        return _leases.FileStore(self.dir, PLATFORM, time.time, **kwargs)

    def path(self, name):
        return os.path.join(self.dir, name + '.lease')

    def write(self, name, text):
        with open(self.path(name), 'wb') as f:
            f.write(text.encode('ascii') if not isinstance(text, bytes) else text)

    def judge_in_child(self, *names):
        """Judge and try to acquire *names* in a child; also checks 'control' is acquirable."""
        out = _run_python(self, _JUDGE_CODE, [self.dir] + list(names) + ['control'])
        self.assertEqual(out.pop('control'), {'judge': 'free', 'acquired': True})
        return out

    def hold_in_child(self, *names):
        """A child holding *names* (see _LOCK_CODE) until the returned process's stdin closes."""
        child = subprocess.Popen([sys.executable, '-c', _LOCK_CODE, ROOT, self.dir]
                                 + list(names), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.addCleanup(child.wait)
        self.addCleanup(child.stdout.close)
        self.addCleanup(_quietly_close, child.stdin)
        self.assertEqual(child.stdout.readline(), b'ready\n')
        return child

    def test_acquire_held_renew_release(self):
        before = fd_count()
        handle = self.store.acquire('b1', time.time() + 60)
        self.assertIsNotNone(handle)
        self.assertEqual(fd_count(), before + 1)  # the locked entry
        self.assertEqual(stat.S_IMODE(os.lstat(self.path('b1')).st_mode), 0o600)
        self.assertTrue(self.store.held('b1'))
        self.assertEqual(self.store.judge('b1'), 'locked')
        self.assertIsNone(self.store.acquire('b1', time.time() + 60))  # this process too
        self.assertTrue(self.store.renew(handle, time.time() + 120))
        self.store.release(handle)
        self.assertEqual(fd_count(), before)
        self.assertTrue(os.path.exists(self.path('b1')))  # entries are never removed
        self.assertFalse(self.store.held('b1'))
        again = self.store.acquire('b1', time.time() + 60)
        self.assertIsNotNone(again)
        self.store.release(again)
        self.store.release(again)  # twice: nothing
        self.assertEqual(fd_count(), before)

    def test_entry_content_is_never_consulted(self):
        # Entries of earlier versions (pid, start time, expiry), a pid reused
        # by a live process (ours), garbage: none of it holds a name; only a
        # lock does.
        texts = {
            'oldformat': '%d - %r 0123456789abcdef process\n' % (os.getpid(), time.time() + 600),
            'reusedpid': '%d 1 %r 0123456789abcdef detached\n' % (os.getppid(),
                                                                 time.time() + 600),
            'garbage': b'\x00\xff garbage \x80\n' * 3,
            'notanumber': 'detached soon\n',
            'distant': 'detached %r\n' % (time.time() + 1e9),
            'nan': 'detached nan\n',
            'expired': 'detached %r\n' % (time.time() - 1),
            'big': 'x' * 100000,
        }
        for name, text in texts.items():
            self.write(name, text)
        out = self.judge_in_child(*sorted(texts))
        self.assertEqual(out, dict((name, {'judge': 'free', 'acquired': True})
                                   for name in texts))

    def test_lease_of_a_killed_holder_is_free_at_once(self):
        child = self.hold_in_child('b1', 'b2')
        self.assertEqual([self.store.judge(n) for n in ('b1', 'b2', 'b3')],
                         ['locked', 'locked', 'free'])
        self.assertIsNone(self.store.acquire('b1', time.time() + 60))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        handles = [self.store.acquire(n, time.time() + 60) for n in ('b1', 'b2')]
        self.assertNotIn(None, handles)
        for handle in handles:
            self.store.release(handle)

    def test_entry_locked_forever_by_another_program_takes_only_its_name(self):
        self.hold_in_child('flock:stuck')
        self.assertEqual(self.judge_in_child('stuck'),
                         {'stuck': {'judge': 'locked', 'acquired': False}})

    def test_fifo_entry_neither_hangs_nor_blocks_other_names(self):
        os.mkfifo(self.path('fifo'))
        self.assertEqual(self.judge_in_child('fifo'),
                         {'fifo': {'judge': 'odd', 'acquired': False}})
        self.assertTrue(stat.S_ISFIFO(os.lstat(self.path('fifo')).st_mode))

    def test_socket_entry_takes_only_its_name(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(sock.close)
        sock.bind(self.path('sock'))
        self.assertEqual(self.judge_in_child('sock'),
                         {'sock': {'judge': 'odd', 'acquired': False}})

    def test_symlink_to_dev_zero_is_not_followed(self):
        os.symlink('/dev/zero', self.path('zero'))
        self.assertEqual(self.judge_in_child('zero'),
                         {'zero': {'judge': 'odd', 'acquired': False}})
        self.assertEqual(os.readlink(self.path('zero')), '/dev/zero')

    def test_symlink_to_a_file_is_not_followed(self):
        target = os.path.join(_temp_dir(self), 'target')
        with open(target, 'w') as f:
            f.write('keep me\n')
        os.symlink(target, self.path('link'))
        self.assertEqual(self.judge_in_child('link'),
                         {'link': {'judge': 'odd', 'acquired': False}})
        self.assertEqual(_read(target), 'keep me\n')

    def test_dangling_symlink_is_not_followed(self):
        target = os.path.join(self.dir, 'elsewhere')
        os.symlink(target, self.path('dangling'))
        self.assertEqual(self.judge_in_child('dangling'),
                         {'dangling': {'judge': 'odd', 'acquired': False}})
        self.assertFalse(os.path.exists(target))

    def test_directory_entry_takes_only_its_name(self):
        os.mkdir(self.path('dir'))
        self.assertEqual(self.judge_in_child('dir'),
                         {'dir': {'judge': 'odd', 'acquired': False}})

    @unittest.skipIf(IS_ROOT, 'root opens mode-000 files')
    def test_unreadable_entry_takes_only_its_name(self):
        self.write('locked', '')
        os.chmod(self.path('locked'), 0)
        self.assertEqual(self.judge_in_child('locked'),
                         {'locked': {'judge': 'odd', 'acquired': False}})

    def test_odd_entries_cost_no_descriptor(self):
        os.mkfifo(self.path('fifo'))
        os.mkdir(self.path('dir'))
        os.symlink('/dev/zero', self.path('zero'))
        before = fd_count()
        for name in ('fifo', 'dir', 'zero'):
            self.assertIsNone(self.store.acquire(name, time.time() + 60))
            self.assertTrue(self.store.held(name))
            self.assertIsNone(self.store.acquire(name, time.time() + 60, detached=True))
            self.assertFalse(self.store.release_detached(name))
        self.assertEqual(fd_count(), before)

    def test_detached_entries_of_a_process_killed_before_hold_are_free(self):
        # The port command killed between leasing and handing its ports on
        # leaves nothing held; once handed on, they outlive it.
        out = _run_python(self, _DETACH_CODE, [self.dir, 'no'])
        self.assertEqual([self.store.judge(name) for name in out], ['free', 'free'])
        out = _run_python(self, _DETACH_CODE, [self.dir, 'yes'])
        self.assertEqual([self.store.judge(name) for name in out], ['detached', 'detached'])
        self.assertIsNone(self.store.acquire(out[0], time.time() + 60))
        self.assertTrue(self.store.release_detached(out[0]))
        self.assertFalse(self.store.release_detached(out[0]))  # once
        self.assertEqual(self.store.judge(out[0]), 'free')
        self.assertEqual(self.store.judge(out[1]), 'detached')

    def test_release_detached_leaves_a_live_holder_alone(self):
        handle = self.store.acquire('p1', time.time() + 60, detached=True)
        self.addCleanup(self.store.release, handle)
        self.assertFalse(self.file_store().release_detached('p1'))
        self.assertTrue(self.store.held('p1'))

    def test_removed_entry_is_a_lost_lease(self):
        handle = self.store.acquire('p1', time.time() + 60, detached=True)
        self.addCleanup(self.store.release, handle)
        os.remove(self.path('p1'))
        self.assertFalse(self.store.renew(handle, time.time() + 120))
        with self.assertRaises(OSError) as cm:
            self.store.detach([handle], time.time() + 60)
        self.assertIn('a lease entry in %s was lost before it could be handed on'
                      % self.dir, str(cm.exception))

    def test_forget_closes_this_copy_only(self):
        handle = self.store.acquire('p1', time.time() + 60)
        copy = os.dup(handle.fd)  # as a forked child or the holder would have
        self.store.forget(handle)
        self.assertTrue(self.store.held('p1'))
        os.close(copy)
        self.assertFalse(self.store.held('p1'))


def _quietly_close(stream):
    try:
        stream.close()
    except (IOError, OSError):
        pass


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
        # A squatted shared directory: these tests are about the per-user one.
        self.shared = os.path.join(self.parent, _leases.SHARED_DIR_NAME)
        with open(self.shared, 'w'):
            pass
        _leases._warned.clear()
        self.addCleanup(_leases._warned.clear)

    def open(self, private=False, directory=None, shared_warnings=False):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            store = _leases.open_store(self.environ, PLATFORM, directory or self.default,
                                       private, time.time, os.getpid(),
                                       _system.user_id(), self.parent)
        return store, [w for w in caught if issubclass(w.category, allocator.PortRegistryWarning)
                       and (shared_warnings or 'shared port registry' not in str(w.message))]

    def test_safe_shared_directory_is_made_and_used(self):
        os.remove(self.shared)
        store, caught = self.open()
        self.assertEqual((store.kind, store.directory, store.scope, caught),
                         ('files', self.shared, 'all users', []))
        info = os.lstat(self.shared)
        self.assertEqual(stat.S_IMODE(info.st_mode), 0o1777)
        self.assertEqual(os.listdir(self.parent), [_leases.SHARED_DIR_NAME])  # no staging left
        again, caught = self.open()
        self.assertEqual((again.directory, caught), (self.shared, []))

    def test_unsafe_shared_directory_falls_back_per_user_and_says_why(self):
        os.remove(self.shared)
        for make, why in ((lambda: os.mkdir(self.shared, 0o755),
                           'is not world-writable with the sticky bit (mode 0755'),
                          (lambda: os.symlink(self.home, self.shared), 'is a symbolic link'),
                          (lambda: os.mkfifo(self.shared), 'is not a directory')):
            make()
            _leases._warned.clear()
            store, caught = self.open(shared_warnings=True)
            self.assertEqual(store.directory, self.default)
            self.assertTrue(store.scope.startswith('this user (%r %s' % (self.shared, why)),
                            store.scope)
            self.assertEqual(len(caught), 1, [str(w.message) for w in caught])
            self.assertIn('the shared port registry %r %s' % (self.shared, why),
                          str(caught[0].message))
            self.assertIn('leases are kept apart only among processes of this user',
                          str(caught[0].message))
            if os.path.isdir(self.shared) and not os.path.islink(self.shared):
                os.rmdir(self.shared)
            else:
                os.remove(self.shared)

    def test_shared_directory_in_a_parent_others_can_write_is_refused(self):
        os.remove(self.shared)
        os.chmod(self.parent, 0o777)
        store, caught = self.open(shared_warnings=True)
        self.assertEqual(store.directory, self.default)
        self.assertIn('is in a directory others can write without the sticky bit (mode 0777)',
                      store.scope)

    def test_windows_keeps_leases_per_user_without_a_warning(self):
        self.assertEqual(_system.shared_dir_problem(platform_shim.WINDOWS, self.parent),
                         'this system has no sticky directories')

    def test_private_registry_that_is_a_safe_shared_directory_is_shared(self):
        shared = os.path.join(self.home, 'ports')
        os.mkdir(shared)
        os.chmod(shared, 0o1777)
        store, caught = self.open(private=True, directory=shared)
        self.assertEqual((store.directory, store.scope, caught), (shared, 'all users', []))
        private = os.path.join(self.home, 'mine')
        store, caught = self.open(private=True, directory=private)
        self.assertEqual((store.directory, caught), (private, []))
        self.assertEqual(store.scope, 'this user (TESTSUPPORT_PORT_REGISTRY is private)')

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

    LOCK_SH = 1
    LOCK_EX = 2
    LOCK_NB = 4
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
        return _leases.FileStore(self.dir, PLATFORM, time.time, **kwargs)

    def path(self, name):
        return os.path.join(self.dir, name + '.lease')

    def test_missing_directory_opens_and_is_described(self):
        missing = os.path.join(self.dir, 'not-yet')
        store = _leases.FileStore(missing, PLATFORM, time.time)
        self.assertEqual(store.describe(), 'files (%s; leases apart from this user)' % missing)
        with self.assertRaises(EnvironmentError) as cm:
            store.acquire('b1', time.time() + 60)  # not an odd entry: propagates
        self.assertEqual(cm.exception.errno, errno.ENOENT)
        self.assertFalse(store.held('b1'))

    def test_failing_lock_closes_its_descriptor_and_propagates(self):
        store = self.store(lock_module=FailingLock())
        before = fd_count()
        with self.assertRaises(EnvironmentError) as cm:
            store.acquire('b1', time.time() + 60)
        self.assertEqual(cm.exception.errno, errno.ENOLCK)
        self.assertEqual(fd_count(), before)
        self.assertTrue(store.held('b1'))  # cannot tell: assumed held

    def test_shared_entries_are_created_readable_by_all_whatever_the_umask(self):
        old = os.umask(0o077)
        self.addCleanup(os.umask, old)
        store = self.store(mode=0o644, scope='all users')
        handle = store.acquire('b1', time.time() + 60)
        self.addCleanup(store.release, handle)
        self.assertEqual(stat.S_IMODE(os.lstat(self.path('b1')).st_mode), 0o644)
        self.assertIn('leases apart from all users', store.describe())

    @skip_unless_root
    def test_entry_of_another_user_is_locked_but_never_written(self):
        with open(self.path('p1'), 'w') as f:
            f.write('detached %r\n' % (time.time() + 600))
        os.chown(self.path('p1'), 54321, 54321)
        os.chmod(self.path('p1'), 0o644)
        store = self.store()
        self.assertEqual(store.judge('p1'), 'detached')  # another user's port command
        self.assertFalse(store.release_detached('p1'))
        with open(self.path('p2'), 'w'):
            pass
        os.chown(self.path('p2'), 54321, 54321)
        handle = store.acquire('p2', time.time() + 60)  # read-only: fine to lock
        self.assertIsNotNone(handle)
        store.release(handle)
        self.assertIsNone(store.acquire('p2', time.time() + 60, detached=True))


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
        os.symlink(blocker, os.path.join(self.base, _leases.SHARED_DIR_NAME))
        store, caught = self.open({_leases.BACKEND_ENV_VAR: 'files'}, PLATFORM,
                                  directory, False)  # no HOME: no fallback directory
        self.assertEqual(store.kind, 'memory')
        self.assertEqual(len(caught), 2, caught)
        self.assertIn('the shared port registry', caught[0])
        self.assertIn('%r cannot be created or inspected (' % directory, caught[1])

    def test_no_registry_is_the_shared_kernel_namespace(self):
        self.assertEqual(_leases.namespace_of(''), '')
        self.assertEqual(_leases.namespace_of(None), '')


# -- several processes on one file registry -------------------------------------------

_STRESS_CODE = '''
import json, os, random, sys, time
sys.path.insert(0, sys.argv[1])
from testsupport import _leases, platform_shim
store = _leases.FileStore(sys.argv[2], platform_shim.current(), time.time)
rounds = int(sys.argv[3])
sys.stdout.write('ready\\n')
sys.stdout.flush()
sys.stdin.readline()  # 'go': every child is ready, they all start now
taken = dict((name, 0) for name in 'abc')
holds = []
give_up = time.time() + 120.0  # only so that a store that never grants cannot hang the test
while min(taken.values()) < rounds and time.time() < give_up:
    name = random.choice('abc')
    handle = store.acquire(name, time.time() + 0.05)
    if handle is None:
        continue
    start = time.time()
    if random.random() < 0.5:
        time.sleep(0.001)
    stop = time.time()
    store.release(handle)
    taken[name] += 1
    holds.append((name, start, stop))
sys.stdout.write(json.dumps(holds) + '\\n')
sys.stdout.flush()
sys.stdin.read()
'''


class FileStoreProcessesTest(unittest.TestCase):

    def test_two_processes_never_hold_a_name_at_once(self):
        # Each child takes every name at least ROUNDS times, all starting together
        # once each has signalled it is ready: however slowly they start (PyPy, a
        # loaded machine), every name changes hands between processes many times.
        rounds = 5
        directory = _temp_dir(self)
        children = [subprocess.Popen([sys.executable, '-c', _STRESS_CODE, ROOT, directory,
                                      str(rounds)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
                    for _ in range(4)]
        reports = []
        try:
            ready = [child.stdout.readline() for child in children]
            self.assertEqual(ready, [b'ready\n'] * 4)
            for child in children:
                child.stdin.write(b'go\n')
                child.stdin.flush()
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
            self.assertGreaterEqual(len(spans), 4 * rounds, name)
            for (start1, stop1), (start2, stop2) in zip(spans, spans[1:]):
                self.assertLessEqual(stop1, start2, 'two holders of %r at once: [%r, %r] and '
                                     '[%r, %r]' % (name, start1, stop1, start2, stop2))


class FileStoreAcrossUsersTest(unittest.TestCase):
    """Real processes of two users on one shared directory (TMPDIR private to the test)."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='tsu-users-')
        self.addCleanup(shutil.rmtree, self.tmp, True)
        os.chmod(self.tmp, 0o1777)  # a temporary directory every user can use, as /tmp

    def environ(self):
        env = dict(os.environ, TMPDIR=self.tmp, TESTSUPPORT_PORT_BACKEND='files',
                   TESTSUPPORT_PORT_RANGE='%d-%d' % _range(32))
        env.pop('TESTSUPPORT_PORT_REGISTRY', None)
        return env

    @skip_unless_root
    def test_two_users_never_hold_the_same_port(self):
        users = [_make_user(self), _make_user(self)]
        env = self.environ()
        for name in ('hashlib', 'random', 'tempfile'):  # the users cannot read root's install
            __import__(name)
        old = dict(os.environ)
        self.addCleanup(os.environ.update, old)
        self.addCleanup(os.environ.clear)
        os.environ.update(env)

        def reserve():
            from testsupport import _ports
            _ports._state.clear()  # the child's own allocator, as the new user
            import tempfile as tf
            tf.tempdir = None
            return ' '.join(str(allocator.reserve_port()) for _ in range(8)).encode('ascii')
        for _round in range(3):
            holders = [_fork_as(self, uid, gid, reserve) for uid, gid in users]
            ports = [set(int(p) for p in out.split()) for _pid, out in holders]
            self.assertEqual([len(p) for p in ports], [8, 8])  # both hold theirs meanwhile
            self.assertEqual(ports[0] & ports[1], set())
            for pid, _out in holders:
                _reap(pid)
        shared = os.path.join(self.tmp, _leases.SHARED_DIR_NAME)
        self.assertEqual(stat.S_IMODE(os.lstat(shared).st_mode), 0o1777)
        owners = set(os.lstat(os.path.join(shared, n)).st_uid for n in os.listdir(shared))
        self.assertEqual(owners - set(uid for uid, _gid in users), set())

    def test_killed_mid_claim_holders_are_reclaimed_at_once(self):
        # Holders of every name of a range, SIGKILLed mid-claim and after it:
        # the next process takes every name at once, no waiting.
        directory = _temp_dir(self)
        names = ['b%d' % i for i in range(32)] + ['p%d' % p for p in range(20000, 21024)]
        code = ('import os, sys, time\n'
                'sys.path.insert(0, sys.argv[1])\n'
                'from testsupport import _leases, platform_shim\n'
                'store = _leases.FileStore(sys.argv[2], platform_shim.current(), time.time)\n'
                'handles = []\n'
                'for i, name in enumerate(sys.argv[3:]):\n'
                '    handles.append(store.acquire(name, time.time() + 60))\n'
                '    if i == 100 or i == len(sys.argv) - 4:\n'
                '        sys.stdout.write("%d\\n" % i)\n'
                '        sys.stdout.flush()\n'
                'sys.stdin.read()\n')
        for mid_claim in (True, False):
            child = subprocess.Popen([sys.executable, '-c', code, ROOT, directory] + names,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            self.addCleanup(child.stdout.close)
            self.addCleanup(_quietly_close, child.stdin)
            self.assertEqual(child.stdout.readline(), b'100\n')
            if not mid_claim:
                self.assertEqual(child.stdout.readline(), b'%d\n' % (len(names) - 1))
                self.assertTrue(all(self.held(directory, names)))
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            store = _leases.FileStore(directory, PLATFORM, time.time)
            handles = [store.acquire(name, time.time() + 60) for name in names]
            for handle in handles:
                if handle is not None:
                    store.release(handle)
            self.assertEqual([n for n, h in zip(names, handles) if h is None], [])

    def held(self, directory, names):
        store = _leases.FileStore(directory, PLATFORM, time.time)
        return [store.held(name) for name in names]


def _range(blocks):
    """A random range of *blocks* aligned 32-port blocks below the ephemeral ports."""
    start = random.randrange(1024 // 32 + 1, 28000 // 32 - blocks) * 32
    return start, start + blocks * 32 - 1


if __name__ == '__main__':
    unittest.main()
