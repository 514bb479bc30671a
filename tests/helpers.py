"""Small tools the test modules share: descriptor counting, temp-dir snapshots,
environment variables restored at cleanup, the CLI run in-process."""
from __future__ import absolute_import, division, print_function

import importlib
import io
import os
import warnings
import socket
import sys
import tempfile

from testsupport import _compat, _leases, _ports

socketserver = importlib.import_module(_compat.socketserver_name)

_FD_DIR = '/proc/self/fd' if os.path.isdir('/proc/self/fd') else '/dev/fd'


def fd_count():
    """How many file descriptors this process has open."""
    return len(open_fds())


def is_closed(sock):
    """True if *sock* has been closed."""
    try:
        return sock.fileno() == -1
    except _compat.OS_ERRORS:  # 2.7: a closed socket raises EBADF
        return True


class EchoHandler(socketserver.BaseRequestHandler):
    """Send back what one recv() got."""

    def handle(self):
        self.request.sendall(self.request.recv(1024))


def open_fds():
    """The set of this process's open file descriptors, less the lease store's.

    A kernel-held port lease (testsupport._leases.KernelStore) is an AF_UNIX
    socket bound to an abstract ``@testsupport/...`` name that the allocator
    keeps open while it holds a block: that descriptor is not a leak.
    """
    fds = set(os.listdir(_FD_DIR))
    return fds - _lease_fds(fds) - _gone(fds) - shared_supervisor_fds()


def shared_supervisor_fds():
    """The process's shared supervisors' sockets, kept until it exits: not leaks."""
    from testsupport import _compat, _launcher
    if not _compat.HAS_SENDMSG:
        return set()
    return set(str(fd) for fd in _launcher._shared().fds())


def _gone(fds):
    """Which of *fds* are closed already: the one listdir() itself used to read the list."""
    gone = set()
    for fd in fds:
        try:
            os.fstat(int(fd))
        except (IOError, OSError):
            gone.add(fd)
    return gone


def _lease_fds(fds):
    """Which of *fds* (names in /proc/self/fd) are lease-store sockets (Linux only)."""
    try:
        with open('/proc/net/unix') as table:
            inodes = set(line.split()[6] for line in table
                         if len(line.split()) > 7 and line.split()[7].startswith('@testsupport/'))
    except (IOError, OSError):
        return set()
    found = set()
    for fd in fds:
        try:
            target = os.readlink(os.path.join(_FD_DIR, fd))
        except (IOError, OSError):
            continue
        if target.startswith('socket:[') and target[8:-1] in inodes:
            found.add(fd)
    return found


class FdLeakMixin(object):
    """assertNoFdLeak(): fail if a block opens descriptors it does not close."""

    def assertNoFdLeak(self, func, *args, **kwargs):
        """Call *func*; return (result, exception) and fail if it leaked an fd."""
        before = open_fds()
        result = exc = None
        try:
            result = func(*args, **kwargs)
        except Exception as err:  # the caller asserts on it
            exc = err
        after = open_fds()
        self.assertEqual(after - before, set(), 'descriptors leaked by %r' % (func,))
        return result, exc


def temp_entries():
    """Names in the temp directory (for "nothing left behind" checks)."""
    return set(os.listdir(tempfile.gettempdir()))


def refusing_port(testcase, family=socket.AF_INET, host='127.0.0.1'):
    """A port that refuses connections: bound (so nobody else takes it), not listening."""
    sock = new_socket(testcase, family)
    sock.bind((host, 0))
    return sock.getsockname()[1]


def new_socket(testcase, family=socket.AF_INET, type=socket.SOCK_STREAM):
    """A real socket closed at the end of *testcase*."""
    sock = socket.socket(family, type)
    testcase.addCleanup(sock.close)
    return sock


def save_env(testcase, name):
    """Put back ``os.environ[name]`` (or its absence) when *testcase* cleans up."""
    old = os.environ.get(name)

    def restore():
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old
    testcase.addCleanup(restore)


def set_env(testcase, name, value):
    """Set ``os.environ[name]`` to *value* (None: remove it) until *testcase* cleans up."""
    save_env(testcase, name)
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def private_registry(testcase):
    """Give *testcase* a private port registry: its own directory and kernel namespace.

    Sets ``TESTSUPPORT_PORT_REGISTRY`` until cleanup; then this process's
    allocators on it are closed (their leases given back) and the directory
    removed. Returns the registry directory (not created: the store does that).
    """
    import shutil
    from testsupport import allocator
    base = tempfile.mkdtemp(prefix='tsu-registry-')
    testcase.addCleanup(shutil.rmtree, base, True)
    directory = os.path.join(base, 'registry')
    set_env(testcase, allocator.REGISTRY_ENV_VAR, directory)

    def forget():
        for key in list(_ports._state):
            if key[2] == directory:
                _ports._state.pop(key).close()
    testcase.addCleanup(forget)
    return directory


def run_main(argv):
    """Run ``_cli.main(argv)`` in this process: ``(status, stdout, stderr)`` as text."""
    from testsupport import _cli  # the CLI loads every module: only for the tests that use it
    out = io.BytesIO() if _compat.PY2 else io.StringIO()
    err = io.BytesIO() if _compat.PY2 else io.StringIO()
    old = sys.stderr
    sys.stderr = err
    try:
        status = _cli.main(argv, stdout=out)
    finally:
        sys.stderr = old
    values = [out.getvalue(), err.getvalue()]
    return tuple([status] + [v.decode('utf-8') if isinstance(v, bytes) else v for v in values])


def private_tmpdir(testcase):
    """A new empty directory for *testcase* alone (a private TMPDIR base), removed at cleanup."""
    import shutil
    base = tempfile.mkdtemp(prefix='tsu-base-')
    testcase.addCleanup(shutil.rmtree, base, True)
    return base


def unavailable(testcase, reason):
    """Skip *testcase* for *reason*, except under CI (``CI=true``), where it fails loudly.

    For tests of something the CI machine must be able to do (pid namespaces,
    a second user), so that a broken CI image cannot turn them into passes.
    """
    if os.environ.get('CI', '').lower() == 'true':
        testcase.fail('%s; CI=true, so this is a failure, not a skip' % (reason,))
    testcase.skipTest(reason)


class EnvMixin(object):
    """set_env(): an environment variable set for one test."""

    def set_env(self, name, value):
        set_env(self, name, value)

    def private_registry(self):
        return private_registry(self)

    def catch_warnings(self):
        _leases._warned.clear()
        self.addCleanup(_leases._warned.clear)
        catcher = warnings.catch_warnings(record=True)
        caught = catcher.__enter__()
        self.addCleanup(catcher.__exit__, None, None, None)
        warnings.simplefilter('always')
        return caught


def pid_gone(pid):
    """True once process *pid* no longer runs: no /proc entry, or a zombie (Linux tests only).

    A test helper, not a liveness judgement the package makes: the tests use it to
    see that a process they started (or its daemonised grandchild) has ended.
    """
    try:
        with open('/proc/%d/stat' % pid) as fp:
            text = fp.read()
    except (IOError, OSError):
        return True
    return text.rsplit(')', 1)[-1].split()[:1] in (['Z'], ['X'])
