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
``describe()``, ``kind``, ``shared``, ``names_cost_descriptors``, ``scope``
    what the store is, whether other processes see its leases, whether
    each held name costs a file descriptor (so the allocator bounds them),
    and whose leases it keeps apart (``info``'s ``port_scope``).

:class:`KernelStore` (Linux) holds each name as an abstract-namespace AF_UNIX
socket bound to ``\\0testsupport/1/<namespace>/<name>``. Such a name is
exclusive across every user, container and pid namespace that shares the
network namespace, which is exactly where TCP and UDP ports collide; the
kernel frees it the instant the holding process dies. No file, no lock, no
liveness check, nothing to corrupt or clean up. Each held name costs one file
descriptor, which the allocator keeps bounded.

:class:`FileStore` (macOS, the BSDs, Windows, Linux without the abstract
namespace) holds each name as a lock on the file ``<name>.lease``, kept by
the holding process and freed by the kernel the instant it dies. The files
live in ``<tmp>/testsupport-ports`` (a sticky, world-writable directory every
user shares) where that is safe, so that leases hold across users; else in
a per-user directory (Windows; a squatted shared directory), which ``info``
reports as the store's scope. A hostile entry takes only its own name out.

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
    'SHARED_DIR_NAME',
    'kernel_names_work',
    'namespace_of',
    'open_store',
    'warn_once',
]

BACKEND_ENV_VAR = 'TESTSUPPORT_PORT_BACKEND'
_BACKENDS = ('kernel', 'files', 'memory')

#: Abstract names start with this; the digit is the protocol version.
_KERNEL_PREFIX = 'testsupport/1/'
#: A detached entry's line is about 30 bytes; more than this is not ours.
_ENTRY_LIMIT = 256
_SUFFIX = '.lease'
#: A detached lease expiring further ahead than this (a day and the block's
#: extra lease time, with room) is garbage, not a lease that never ends.
_MAX_AHEAD_SECONDS = 7 * 86400.0
#: The directory under the temporary directory that every user's processes share.
SHARED_DIR_NAME = 'testsupport-ports'


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
    scope = 'all users (in this network namespace)'
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
    __slots__ = ('name', 'fd', 'expiry')

    def __init__(self, name, fd, expiry):
        self.name, self.fd, self.expiry = name, fd, expiry


class FileStore(object):
    """Lease names as locked ``<name>.lease`` files in a directory (see the module docstring).

    A name is held exactly while some process holds the lock on its entry
    (``flock`` on POSIX, ``msvcrt.locking`` of the first byte on Windows,
    chosen by ``platform.file_locking``): the holder keeps the entry open
    and locked, and the kernel drops the lock the instant the holder dies,
    SIGKILL included. No pid, start time or expiry is written or read to
    decide who is alive; an entry's content is never consulted except for
    one line, ``detached <expiry>``, that :meth:`detach` writes for the
    ``port`` command's leases, which outlive their process until that time.

    Entries are opened read-only for locking (entries another user created
    work too), without following links or blocking; anything but a regular
    file (a link, FIFO, socket, directory), an entry that cannot be opened,
    or one kept locked forever takes only its own name out. Entries are
    never removed: removing a file someone may be about to lock would let two
    processes lock two different files of one name. Their number is bounded
    by the names: one per block and per single port leased, at most about
    67,000 empty files.

    *scope* says who the leases are kept apart from (``'all users'`` in a
    shared sticky directory, else ``'this user (why)'``); *mode* is the mode
    of new entries (0644 where other users must open them).
    """

    kind = 'files'
    shared = True
    names_cost_descriptors = True

    def __init__(self, directory, platform, clock, lock_module=None, scope='this user',
                 mode=0o600):
        self.directory = directory
        self.scope = scope
        self._platform = platform
        self._clock = clock
        self._lock_module = lock_module
        self._mode = mode

    def describe(self):
        return 'files (%s; leases apart from %s)' % (self.directory, self.scope)

    def _path(self, name):
        return os.path.join(self.directory, name + _SUFFIX)

    def _open(self, name, create, write=False):
        """``fd`` of the entry of *name*; None if it is odd (only its name is out).

        ENOENT (no entry and not *create*, or no directory) and other OS
        errors propagate.
        """
        try:
            return _system.open_entry(self._platform, self._path(name), create, write,
                                      self._mode)[0]
        except _system.OddFileError:
            return None

    def _try_lock(self, fd, shared=False):
        return _system.try_lock_fd(self._platform, fd, self._lock_module, shared)

    def _unlock_and_close(self, fd):
        try:
            _system.unlock_fd(self._platform, fd, self._lock_module)
        except _compat.OS_ERRORS:
            pass  # closing drops it all the same
        finally:
            os.close(fd)

    def _detached_until(self, fd):
        """The expiry of the detached lease recorded in the open entry *fd*, else 0.0.

        Anything but a well-formed ``detached <expiry>`` line ending within
        a day or so is no lease: garbage in an entry never takes a name out.
        """
        os.lseek(fd, 0, 0)
        fields = os.read(fd, _ENTRY_LIMIT + 1).split()
        if len(fields) != 2 or fields[0] != b'detached':
            return 0.0
        try:
            until = float(fields[1].decode('ascii'))
        except (ValueError, UnicodeDecodeError):
            return 0.0
        now = self._clock()
        if math.isnan(until) or not now < until <= now + _MAX_AHEAD_SECONDS:
            return 0.0
        return until

    def judge(self, name):
        """``'free'``, ``'locked'`` (a live holder), ``'detached'`` or ``'odd'`` for *name*.

        A probe: it takes a shared lock for an instant and drops it at once.
        """
        try:
            fd = self._open(name, create=False)
        except _compat.OS_ERRORS as exc:
            if _system.is_file_missing_error(exc):
                return 'free'
            raise
        if fd is None:
            return 'odd'
        try:
            if not self._try_lock(fd, shared=True):
                return 'locked'
            return 'detached' if self._detached_until(fd) else 'free'
        finally:
            self._unlock_and_close(fd)

    def acquire(self, name, expiry, detached=False):
        # A detached lease is this process's (held by its lock) until detach()
        # hands it on: killed before that, it leaves nothing held. Its entry
        # is opened for writing then, so it must be this user's own.
        fd = self._open(name, create=True, write=detached)
        if fd is None:
            return None
        try:
            if not self._try_lock(fd):
                os.close(fd)
                return None
            if self._detached_until(fd):
                self._unlock_and_close(fd)
                return None
        except BaseException:
            os.close(fd)
            raise
        return _FileHandle(name, fd, expiry)

    def renew(self, handle, expiry):
        """Extend *handle* (the lock needs nothing); False if its entry was removed meanwhile."""
        handle.expiry = max(handle.expiry, expiry)
        return handle.fd is not None and _system.same_file(handle.fd, self._path(handle.name))

    def release(self, handle):
        fd, handle.fd = handle.fd, None
        if fd is not None:
            self._unlock_and_close(fd)

    def detach(self, handles, until):
        """Record in the entries of *handles* that they are leased until *until*.

        Then :meth:`forget` (``Keeper.hold``) closes them, and the entries stay
        held, without a lock, until *until* or :meth:`release_detached`.
        OSError if an entry was lost (removed) before it could be handed on.
        """
        line = ('detached %r\n' % float(until)).encode('ascii')
        for handle in handles:
            if handle.fd is None or not _system.same_file(handle.fd,
                                                          self._path(handle.name)):
                raise OSError('a lease entry in %s was lost before it could be handed '
                              'on: the ports are not leased beyond this process'
                              % self.directory)
            os.lseek(handle.fd, 0, 0)
            os.ftruncate(handle.fd, 0)
            os.write(handle.fd, line)

    def release_detached(self, name):
        """End the detached lease of *name* (the ``release`` command); True if one was ended.

        Only this user's own entries can be ended (the entry is theirs).
        """
        try:
            fd = self._open(name, create=False, write=True)
        except _compat.OS_ERRORS:
            return False
        if fd is None:
            return False
        try:
            if not self._try_lock(fd) or not self._detached_until(fd):
                return False
            os.ftruncate(fd, 0)
            return True
        finally:
            self._unlock_and_close(fd)

    def held(self, name):
        try:
            return self.judge(name) != 'free'
        except _compat.OS_ERRORS:
            return True  # cannot tell (no descriptor left): assume held

    def forget(self, handle):
        """Close this process's copy of the entry; the lock stays with the other copies."""
        fd, handle.fd = handle.fd, None
        if fd is not None:
            os.close(fd)


# -- memory --------------------------------------------------------------------------

class _MemoryHandle(object):
    __slots__ = ('name', 'expiry')

    def __init__(self, name, expiry):
        self.name, self.expiry = name, expiry


class MemoryStore(object):
    """Names held by this process only: ports are then unique within it, not across processes."""

    kind = 'memory'
    shared = False
    scope = 'this process'
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
        store = _open_file_store(directory, private, platform, clock, uid, environ, tempdir)
        if store is not None:
            return store
    return MemoryStore(clock)


def _open_file_store(directory, private, platform, clock, uid, environ, tempdir):
    """A FileStore: shared by all users if it can be, else *directory* (or the
    per-user fallback); None and a warning if none works.

    Not *private*: ``<tempdir>/testsupport-ports`` (mode 1777, created
    atomically) if it is safe to share (:func:`_system.shared_dir_problem`);
    an unsafe one is named in a warning. *private* (``TESTSUPPORT_PORT_REGISTRY``):
    that directory, whether it is this user's alone or a safe shared one.
    """
    if private:
        candidates, why = [directory], '%s is private' % 'TESTSUPPORT_PORT_REGISTRY'
    else:
        if tempdir is None:
            import tempfile
            tempdir = tempfile.gettempdir()
        shared = os.path.join(tempdir, SHARED_DIR_NAME)
        problem = _prepare_shared_dir(shared, platform)
        if problem is None:
            return FileStore(shared, platform, clock, scope='all users', mode=0o644)
        if platform.dir_privacy == 'owner_mode':
            why = '%r %s' % (shared, problem)
            warn_once(('shared', shared, problem),
                      'testsupport: the shared port registry %s; leases are kept apart only '
                      'among processes of this user: remove it (or have root create it with '
                      'mode 1777) so that leases hold across users' % why)
        else:
            why = problem
        candidates = [directory]
        fallback = _system.fallback_registry_dir(platform, environ, _system.host_name())
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
            return FileStore(candidate, platform, clock, scope='this user (%s)' % why)
        if private and _shared_problem(candidate, platform) is None:
            return FileStore(candidate, platform, clock, scope='all users', mode=0o644)
        problems.append(problem)
    warn_once(('memory', tuple(candidates)),
              'testsupport: no usable port registry (%s); leases are kept in this process '
              'only, so OTHER PROCESSES MAY BE HANDED THE SAME PORTS: set %s to a directory '
              'only you can write, e.g. under your home directory'
              % ('; '.join('%r %s' % pair for pair in zip(candidates, problems)),
                 'TESTSUPPORT_PORT_REGISTRY'))
    return None


def _shared_problem(directory, platform):
    try:
        return _system.shared_dir_problem(platform, directory)
    except _compat.OS_ERRORS as exc:
        return 'cannot be inspected (%s)' % (exc,)


def _prepare_shared_dir(directory, platform):
    """None if the shared *directory* exists (created 1777 if needed) and is safe; else why not."""
    if platform.dir_privacy != 'owner_mode':
        return _system.shared_dir_problem(platform, directory)
    try:
        _system.make_shared_dir(directory)
    except _compat.OS_ERRORS as exc:
        return 'cannot be created (%s)' % (exc,)
    return _shared_problem(directory, platform)


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
