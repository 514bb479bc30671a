"""Where port leases live: kernel names, files, or this process's memory.

A *lease name* is short text (``b1907`` for the block of ports 61024-61055,
``p61024`` for one port); a store says who holds each name, behind one small
interface that the allocator's policy uses:

``acquire(name, expiry, detached=False)``
    hold *name* until *expiry* (a ``time.time()`` value); a handle (its
    ``expiry`` attribute says until when it is held), or None if
    someone else holds it. *detached*: the lease must outlive this process
    (the ``port`` command).
``renew(handle, expiry)``
    extend a lease; False if it was lost meanwhile.
``release(handle)``
    give the name back (nothing if it is no longer ours).
``held(name)``
    True if anyone (this process included) holds *name*, or its entry cannot
    be judged; a probe that takes nothing.
``detach(handles, until)``
    make the detached leases *handles* outlive this process until *until*
    (the ``port`` command, through :class:`testsupport._holder.Keeper`);
    OSError if they cannot be handed on.
``release_detached(name)``
    end the detached lease of *name* held by this user (the ``release``
    command); True if one was ended.
``forget(handle)``
    drop this process's copy of *handle* without releasing the name (after a
    fork, or once the lease was handed on).
``describe()``, ``kind``, ``shared``, ``names_cost_descriptors``
    what the store is, whether other processes see its leases, and whether
    each held name costs a file descriptor (so the allocator bounds them).

:class:`KernelStore` (Linux) holds each name as an abstract-namespace AF_UNIX
socket bound to ``\\0testsupport/1/<namespace>/<name>``. Such a name is
exclusive across every user, container and pid namespace that shares the
network namespace, which is exactly where TCP and UDP ports collide; the
kernel frees it the instant the holding process dies. No file, no lock, no
liveness check, nothing to corrupt or clean up. Each held name costs one file
descriptor, which the allocator keeps bounded.

:class:`FileStore` (macOS, the BSDs, Windows, Linux without the abstract
namespace) keeps ``<name>.lease`` files in a private per-user directory.
Every entry is judged alone; reads are bounded and never follow links or
block; takeovers happen under a lock file.

:class:`MemoryStore` holds names for this process only: the last resort.
"""
from __future__ import absolute_import, division, print_function

import math
import os
import socket
import warnings

from . import _compat, _system

__all__ = [
    'BACKEND_ENV_VAR',
    'FileStore',
    'KernelStore',
    'MemoryStore',
    'PortRegistryWarning',
    'kernel_names_work',
    'namespace_of',
    'open_store',
    'warn_once',
]

BACKEND_ENV_VAR = 'TESTSUPPORT_PORT_BACKEND'
_BACKENDS = ('kernel', 'files', 'memory')

#: Abstract names start with this; the digit is the protocol version.
_KERNEL_PREFIX = 'testsupport/1/'
#: A registry entry is a line of about 60 bytes; anything larger is not ours.
_ENTRY_LIMIT = 256
#: A corrupt entry younger than this may be one being written: leave it.
_CORRUPT_GRACE_SECONDS = 10.0
_SUFFIX = '.lease'
_LOCK_NAME = '.lock'
_KINDS = ('process', 'detached')
#: No system has larger process ids (pid_t is 32 bits); a larger one is corrupt,
#: and os.kill() would raise OverflowError on it.
_MAX_PID = 2 ** 31 - 1
#: No lease runs longer than a day (plus a block's extra lease time): an entry
#: expiring further ahead than this is corrupt, not a lease that never ends.
_MAX_AHEAD_SECONDS = 7 * 86400.0


class PortRegistryWarning(RuntimeWarning):
    """Leases are weaker than usual here (a store fell back, or ports are reused).

    Issued once per process and problem; the text says what is lost and how
    to fix it. Public as ``testsupport.allocator.PortRegistryWarning``.
    """


_warned = set()  # type: set[object]


def warn_once(key, message, category=PortRegistryWarning, stacklevel=5):
    """Issue *message* once per *key* in this process."""
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, category, stacklevel=stacklevel)


# -- kernel names (Linux) -------------------------------------------------------

class _KernelHandle(object):
    __slots__ = ('name', 'sock', 'expiry')

    def __init__(self, name, sock, expiry):
        self.name, self.sock, self.expiry = name, sock, expiry


class KernelStore(object):
    """Lease names held as abstract AF_UNIX sockets (see the module docstring)."""

    kind = 'kernel'
    shared = True
    names_cost_descriptors = True

    def __init__(self, platform, namespace=''):
        self._platform = platform
        self.namespace = namespace
        self._prefix = '\0' + _KERNEL_PREFIX + (namespace + '/' if namespace else '')

    def address(self, name):
        """The abstract socket address of *name* (bytes, starting with NUL)."""
        return (self._prefix + name).encode('ascii')

    def describe(self):
        return 'kernel (abstract AF_UNIX names @%s%s*)' % (
            _KERNEL_PREFIX, self.namespace + '/' if self.namespace else '')

    def _bound(self, name):
        """A socket bound to *name*, or None if the name is taken. EMFILE etc. propagate."""
        sock = socket.socket(self._platform.af_unix, socket.SOCK_STREAM)
        try:
            _system.set_non_inheritable(sock.fileno())
            sock.bind(self.address(name))
        except _compat.OS_ERRORS as exc:
            sock.close()
            if self._platform.is_errno(exc, 'EADDRINUSE'):
                return None
            raise
        return sock

    def acquire(self, name, expiry, detached=False):
        sock = self._bound(name)
        if sock is None:
            return None
        if detached:
            sock.listen(8)  # the holder answers "release" requests on it
        return _KernelHandle(name, sock, expiry)

    def renew(self, handle, expiry):
        handle.expiry = max(handle.expiry, expiry)
        return handle.sock is not None

    def release(self, handle):
        sock, handle.sock = handle.sock, None
        if sock is not None:
            sock.close()

    def held(self, name):
        try:
            sock = self._bound(name)
        except _compat.OS_ERRORS:
            return True  # cannot tell (no descriptor left): assume held
        if sock is None:
            return True
        sock.close()
        return False

    def detach(self, handles, until):
        """Pass the names' sockets to a detached holder process that keeps them until *until*."""
        from . import _holder  # not at import: python -m testsupport._holder would warn
        _holder.spawn_holder([h.sock for h in handles], until)

    def release_detached(self, name):
        return self.request_release(name)

    def forget(self, handle):
        if handle.sock is not None:
            handle.sock.close()  # this process's copy only: the name stays held elsewhere

    def request_release(self, name, timeout=None):
        """Ask the detached holder of *name* to let it go; True if it did.

        False if no holder of this user has it (the name is free, or held
        otherwise). ``testsupport._holder.HolderNotAnsweringError`` (a
        ``socket.timeout``) if a holder of this user has it but did not answer
        within *timeout* seconds (default ``_holder.RELEASE_SECONDS``): it
        names the holder's pid and when its leases end.
        """
        from . import _holder  # not at import: python -m testsupport._holder would warn
        return _holder.request_release(
            self._platform, self.address(name), lambda: self.held(name),
            _holder.RELEASE_SECONDS if timeout is None else timeout)


def kernel_names_work(platform):
    """True if this system can bind abstract AF_UNIX names (Linux, not in a sandbox that forbids it)."""
    if platform.lease_store != 'kernel' or platform.af_unix is None:
        return False
    store = KernelStore(platform, 'probe')
    try:
        # No random name: on 2.7 importing random needs a descriptor, and with
        # none left that ImportError would escape. A taken name answers too.
        handle = store.acquire('%d' % os.getpid(), 0.0)
    except _compat.OS_ERRORS as exc:
        # No descriptor left says nothing about the system: don't give up the
        # kernel store for the life of the process over it.
        return platform.is_fd_exhausted(exc)
    if handle is None:
        return True  # a taken random name: the namespace exists
    store.release(handle)
    return True


# -- files -------------------------------------------------------------------------

class _FileHandle(object):
    __slots__ = ('name', 'token', 'expiry')

    def __init__(self, name, token, expiry):
        self.name, self.token, self.expiry = name, token, expiry


class FileStore(object):
    """Lease names as ``<name>.lease`` files in a private directory (see the module docstring).

    An entry holds ``pid start-marker expiry nonce kind``. Creating one
    (``O_EXCL``, no link followed) needs no lock; taking over a stale one, or
    renewing or removing ours, happens under the exclusive lock on
    ``<directory>/.lock`` after reading it again. An entry that cannot be read
    or is not a small regular file is *held*: it takes only its own name out
    of the candidates. Corrupt entries (bad numbers, pid <= 0, NaN, infinite or
    absurdly distant expiry) are stale once older than a grace time.
    """

    kind = 'files'
    shared = True
    names_cost_descriptors = False

    def __init__(self, directory, platform, clock, pid, alive=None, start_marker=None,
                 lock_module=None):
        self.directory = directory
        self._platform = platform
        self._clock = clock
        self._pid = pid
        self._alive = alive or (lambda pid, marker: _system.process_alive(
            platform, pid, marker))
        if start_marker is None:
            start_marker = _system.process_start_marker(platform, pid)
        self._marker = start_marker or '-'
        self._lock_module = lock_module
        self._remove_leftovers()

    def describe(self):
        return 'files (%s)' % self.directory

    def _path(self, name):
        return os.path.join(self.directory, name + _SUFFIX)

    def _content(self, expiry, detached):
        import random
        # repr(): the exact expiry; '%.3f' could round it down, ending the entry
        # before the handle's lease.
        return ('%d %s %r %016x %s\n' % (self._pid, self._marker, float(expiry),
                                         random.getrandbits(64),
                                         'detached' if detached else 'process'))

    def _remove_leftovers(self):
        """Remove temporary files older versions left behind when killed mid-write."""
        try:
            names = os.listdir(self.directory)
        except _compat.OS_ERRORS:
            return
        now = self._clock()
        for name in names:
            if not name.endswith('.tmp'):
                continue
            path = os.path.join(self.directory, name)
            try:
                if now - os.lstat(path).st_mtime > _CORRUPT_GRACE_SECONDS:
                    _system.remove_quietly(path)
            except _compat.OS_ERRORS:
                pass

    def judge(self, name):
        """``('free'|'stale'|'held', content)`` for the entry of *name*."""
        try:
            data, mtime = _system.read_small_file(self._path(name), _ENTRY_LIMIT)
        except _compat.OS_ERRORS as exc:
            if _system.is_file_missing_error(exc):
                return 'free', None
            return 'held', None  # odd or unreadable: only this name is out
        content = data.decode('ascii', 'replace')
        parsed = _parse_entry(content)
        now = self._clock()
        if parsed is not None and parsed[2] - now > _MAX_AHEAD_SECONDS:
            parsed = None
        if parsed is None:
            return ('stale' if now - mtime > _CORRUPT_GRACE_SECONDS else 'held'), content
        pid, marker, expiry, kind = parsed
        if expiry <= now:
            return 'stale', content
        if kind == 'process' and not self._alive(pid, None if marker == '-' else marker):
            return 'stale', content
        return 'held', content

    def acquire(self, name, expiry, detached=False):
        # A detached lease is this process's (judged by its liveness) until
        # detach() hands it on: killed before that, it leaves nothing held.
        content = self._content(expiry, False)
        path = self._path(name)
        try:
            _system.create_file_exclusive(path, content.encode('ascii'))
            return _FileHandle(name, content, expiry)
        except _compat.OS_ERRORS as exc:
            if not _system.is_file_exists_error(exc):
                raise
        if self.judge(name)[0] != 'stale':
            return None
        with self._locked() as locked:
            if not locked or self.judge(name)[0] != 'stale':
                return None
            try:
                _system.rewrite_file(path, content.encode('ascii'))
            except _compat.OS_ERRORS:
                return None  # replaced by something odd meanwhile
        return _FileHandle(name, content, expiry)

    def renew(self, handle, expiry):
        if expiry <= handle.expiry:
            return True
        with self._locked() as locked:
            if not locked or self.judge(handle.name)[1] != handle.token:
                return False
            content = self._content(expiry, 'detached' in handle.token)
            _system.rewrite_file(self._path(handle.name), content.encode('ascii'))
        handle.token, handle.expiry = content, expiry
        return True

    def release(self, handle):
        with self._locked() as locked:
            if locked and self.judge(handle.name)[1] == handle.token:
                _system.remove_quietly(self._path(handle.name))

    def detach(self, handles, until):
        """Mark the entries of *handles* detached: they outlive this process (to their expiry).

        OSError if one was lost before it could be handed on.
        """
        if not self._mark_detached(handles):
            raise OSError('a lease entry in %s was lost before it could be handed '
                          'on: the ports are not leased beyond this process'
                          % self.directory)

    def _mark_detached(self, handles):
        with self._locked() as locked:
            for handle in handles:
                if not locked or self.judge(handle.name)[1] != handle.token:
                    return False
                content = self._content(handle.expiry, True)
                _system.rewrite_file(self._path(handle.name), content.encode('ascii'))
                handle.token = content
        return True

    def release_detached(self, name):
        """Remove the detached entry of *name* (the ``release`` command); True if removed."""
        with self._locked() as locked:
            state, content = self.judge(name)
            if not locked or content is None or not content.rstrip().endswith('detached'):
                return False
            _system.remove_quietly(self._path(name))
            return True

    def held(self, name):
        return self.judge(name)[0] == 'held'

    def forget(self, handle):
        pass  # a file entry costs this process nothing to keep

    def _locked(self):
        return _FileLock(os.path.join(self.directory, _LOCK_NAME), self._platform,
                         self._lock_module)


class _FileLock(object):
    """``with _FileLock(...) as locked``: *locked* is False if the lock file is odd."""

    def __init__(self, path, platform, lock_module):
        self._path, self._platform, self._lock_module = path, platform, lock_module
        self._fd = None

    def __enter__(self):
        try:
            self._fd = _system.open_lock_file(self._path)
        except _compat.OS_ERRORS:
            return False
        try:
            _system.lock_fd(self._platform, self._fd, self._lock_module)
        except BaseException:
            os.close(self._fd)
            self._fd = None
            raise
        return True

    def __exit__(self, *exc_info):
        if self._fd is not None:
            try:
                _system.unlock_fd(self._platform, self._fd, self._lock_module)
            finally:
                os.close(self._fd)
                self._fd = None
        return False


def _parse_entry(content):
    """``(pid, marker, expiry, kind)`` of a valid entry, else None (corrupt)."""
    fields = content.split()
    if len(fields) != 5 or fields[4] not in _KINDS:
        return None
    try:
        pid, expiry = int(fields[0]), float(fields[2])
    except ValueError:
        return None
    if not 0 < pid <= _MAX_PID or math.isnan(expiry) or math.isinf(expiry):
        return None
    return pid, fields[1], expiry, fields[4]


# -- memory --------------------------------------------------------------------------

class _MemoryHandle(object):
    __slots__ = ('name', 'expiry')

    def __init__(self, name, expiry):
        self.name, self.expiry = name, expiry


class MemoryStore(object):
    """Names held by this process only: ports are then unique within it, not across processes."""

    kind = 'memory'
    shared = False
    names_cost_descriptors = False

    def __init__(self, clock):
        self._clock = clock
        self._held = {}

    def describe(self):
        return 'memory (this process only)'

    def acquire(self, name, expiry, detached=False):
        current = self._held.get(name)
        if current is not None and current.expiry > self._clock():
            return None
        handle = self._held[name] = _MemoryHandle(name, expiry)
        return handle

    def renew(self, handle, expiry):
        if self._held.get(handle.name) is not handle:
            return False
        handle.expiry = max(handle.expiry, expiry)
        return True

    def release(self, handle):
        if self._held.get(handle.name) is handle:
            del self._held[handle.name]

    def held(self, name):
        current = self._held.get(name)
        return current is not None and current.expiry > self._clock()

    def detach(self, handles, until):
        """Nothing can outlive this process here: say so (once)."""
        warn_once(('detached memory',),
                  'testsupport: leases are kept in memory here, so the ports printed '
                  'are not leased once this command exits: set '
                  'TESTSUPPORT_PORT_REGISTRY to a directory only you can write',
                  stacklevel=6)

    def release_detached(self, name):
        return False  # no lease outlives its process here

    def forget(self, handle):
        pass


# -- choosing a store ----------------------------------------------------------------

def _backend(environ, platform):
    value = environ.get(BACKEND_ENV_VAR, '').strip().lower()
    if not value:
        return platform.lease_store
    if value not in _BACKENDS:
        raise ValueError('%s is %r; use "kernel" (Linux: leases held by the kernel), "files" '
                         '(a per-user directory) or "memory" (this process only), or leave it '
                         'unset for the platform default (%s)'
                         % (BACKEND_ENV_VAR, environ.get(BACKEND_ENV_VAR), platform.lease_store))
    return value


def namespace_of(directory):
    """The kernel-name namespace a private registry directory stands for ('' = the shared one)."""
    if not directory:
        return ''
    import hashlib
    return hashlib.sha1(os.path.abspath(directory).encode('utf-8')).hexdigest()[:16]


def open_store(environ, platform, directory, private, clock, pid, uid, tempdir):
    """The lease store the environment and *platform* ask for, falling back with a warning.

    *directory* is the file registry to use; *private* says it was set by the
    user (``TESTSUPPORT_PORT_REGISTRY``), which also gives kernel names a
    namespace of their own (so a test run's leases stay apart from others').
    ValueError for a bad ``TESTSUPPORT_PORT_BACKEND``.
    """
    backend = _backend(environ, platform)
    if backend == 'kernel':
        if kernel_names_work(platform):
            return KernelStore(platform, namespace_of(directory) if private else '')
        warn_once(('no kernel names',),
                  'testsupport: this system cannot hold port leases as abstract AF_UNIX '
                  'names; using the file registry %r, which keeps leases apart only among '
                  'processes of this user that see that directory' % (directory,))
        backend = 'files'
    if backend == 'files':
        store = _open_file_store(directory, private, platform, clock, pid, uid, environ)
        if store is not None:
            return store
    return MemoryStore(clock)


def _open_file_store(directory, private, platform, clock, pid, uid, environ):
    """A FileStore on *directory* (or the per-user fallback); None and a warning if none works."""
    candidates = [directory]
    if not private:
        fallback = _system.fallback_registry_dir(platform, environ,
                                                       _system.host_name())
        if fallback:
            candidates.append(fallback)
    problems = []
    for candidate in candidates:
        problem = _prepare_dir(candidate, platform, uid)
        if problem is None:
            if problems:
                warn_once(('moved', directory),
                          'testsupport: the port registry %r %s; using %r instead (no other '
                          'user can create that one)' % (directory, problems[0], candidate))
            return FileStore(candidate, platform, clock, pid)
        problems.append(problem)
    warn_once(('memory', tuple(candidates)),
              'testsupport: no usable port registry (%s); leases are kept in this process '
              'only, so OTHER PROCESSES MAY BE HANDED THE SAME PORTS: set %s to a directory '
              'only you can write, e.g. under your home directory'
              % ('; '.join('%r %s' % pair for pair in zip(candidates, problems)),
                 'TESTSUPPORT_PORT_REGISTRY'))
    return None


def _prepare_dir(directory, platform, uid):
    """None if *directory* exists (created 0700 if needed) and is ours alone; else why not."""
    try:
        try:
            os.makedirs(directory, 0o700)
        except _compat.OS_ERRORS as exc:
            if not _system.is_file_exists_error(exc):
                raise
        return _system.private_dir_problem(platform, directory, uid)
    except _compat.OS_ERRORS as exc:
        return 'cannot be created or inspected (%s)' % (exc,)
