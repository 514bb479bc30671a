"""The operating system's mechanisms, each chosen by a field of the platform description.

Safe small files, file locks, locked temporary directories (swept once their
creator is dead: a lock, never a pid, says so), private, shared and registry
directories, descriptor limits. Every function that differs between systems
takes the :class:`~testsupport.platform_shim.Platform` and branches on one of
its fields (``file_locking``, ``registry_home``, ``dir_privacy``), never on its
name; the
system calls are parameters, so tests describe Windows and macOS with fakes.
This module sits below :mod:`testsupport.platform_shim` (which reads files and
runs ``sysctl``/``netsh`` through it) and, with it, is the only place that
names an errno.
"""
from __future__ import absolute_import, division, print_function

import errno as _errno
import os
import socket

__all__ = [
    'OddFileError',
    'create_file_exclusive',
    'default_registry_dir',
    'fallback_registry_dir',
    'fd_soft_limit',
    'host_name',
    'is_file_exists_error',
    'is_file_missing_error',
    'list_directory',
    'lock_fd',
    'make_shared_dir',
    'open_entry',
    'open_lock_file',
    'private_dir_problem',
    'read_small_file',
    'random_suffix',
    'read_text_file',
    'remove_quietly',
    'rewrite_file',
    'run_command',
    'same_file',
    'set_non_inheritable',
    'shared_dir_problem',
    'to_int',
    'try_lock_fd',
    'unlock_fd',
    'user_id',
]


def to_int(text):
    """*text* as an int, or None if it is not one."""
    try:
        return int(str(text).strip())
    except (TypeError, ValueError):
        return None


def read_text_file(path):
    """The text of the file *path*, or None if it cannot be read."""
    try:
        with open(path) as fp:
            return fp.read()
    except (IOError, OSError):
        return None


def run_command(cmd):
    """Run *cmd*; return ``(returncode, output)``, or ``(None, '')`` if it can't start."""
    import subprocess
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                universal_newlines=True)
    except (IOError, OSError):
        return None, ''
    output = proc.communicate()[0]
    return proc.returncode, output


def remove_quietly(path):
    """Remove the file *path*; a missing file is fine, other errors propagate."""
    try:
        os.unlink(path)
    except (OSError, IOError) as exc:
        if exc.errno != _errno.ENOENT:
            raise


# -- Files, locks and private directories.


#: msvcrt.locking(LK_LOCK) gives up after 10 seconds; try this many times.
_WINDOWS_LOCK_ATTEMPTS = 6
def is_file_exists_error(exc):
    """True if the file-system error *exc* is EEXIST (``O_EXCL`` found a file)."""
    return getattr(exc, 'errno', None) == _errno.EEXIST


def is_file_missing_error(exc):
    """True if the file-system error *exc* is ENOENT."""
    return getattr(exc, 'errno', None) == _errno.ENOENT


def user_id(os_module=os):
    """The effective user id, or None where there is none (Windows)."""
    geteuid = getattr(os_module, 'geteuid', None)
    return geteuid() if geteuid is not None else None


def lock_fd(platform, fd, lock_module=None):
    """Block until this process holds the exclusive lock on the open file *fd*.

    POSIX uses ``fcntl.flock(fd, LOCK_EX)``; Windows ``msvcrt.locking`` on the
    first byte, retried while another process holds it (each try waits up to 10
    seconds; after a minute the last error propagates). The kernel drops the
    lock when the process dies, even by SIGKILL. *lock_module* replaces
    ``fcntl``/``msvcrt`` (tests pass a fake).
    """
    if platform.file_locking == 'msvcrt':
        msvcrt = lock_module or __import__('msvcrt')
        for attempt in range(_WINDOWS_LOCK_ATTEMPTS):
            os.lseek(fd, 0, 0)  # msvcrt locks from the current position
            try:
                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                return
            except (IOError, OSError):
                if attempt == _WINDOWS_LOCK_ATTEMPTS - 1:
                    raise
    else:
        fcntl = lock_module or __import__('fcntl')
        fcntl.flock(fd, fcntl.LOCK_EX)


def unlock_fd(platform, fd, lock_module=None):
    """Release the lock :func:`lock_fd` took on *fd*."""
    if platform.file_locking == 'msvcrt':
        msvcrt = lock_module or __import__('msvcrt')
        os.lseek(fd, 0, 0)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        fcntl = lock_module or __import__('fcntl')
        fcntl.flock(fd, fcntl.LOCK_UN)


#: Flags that keep an open() from following a symbolic link or blocking on a FIFO.
_SAFE_OPEN_FLAGS = getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_NONBLOCK', 0)
class OddFileError(EnvironmentError):
    """A registry entry that is not a small regular file (a link, FIFO, directory, huge file)."""


def read_small_file(path, limit):
    """``(data, mtime)`` of the regular file *path*, at most *limit* bytes of it.

    Never follows a symbolic link, never blocks (a FIFO or device is refused
    before it is read) and never reads more than *limit* + 1 bytes.
    :class:`OddFileError` for anything but a regular file of at most *limit*
    bytes; other OS errors (ENOENT, EACCES, ELOOP for a link) propagate.
    """
    import stat as _stat
    fd = os.open(path, os.O_RDONLY | _SAFE_OPEN_FLAGS)
    try:
        info = os.fstat(fd)
        if not _stat.S_ISREG(info.st_mode):
            raise OddFileError(_errno.EINVAL, 'not a regular file', path)
        data = os.read(fd, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise OddFileError(_errno.EFBIG, 'larger than %d bytes' % limit, path)
    return data, info.st_mtime


def create_file_exclusive(path, data):
    """Create *path* (mode 0600) holding *data*; EEXIST if anything is there, links included.

    If writing fails (a full disk), the file is removed again and the error propagates.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _SAFE_OPEN_FLAGS, 0o600)
    try:
        os.write(fd, data)
    except BaseException:
        os.close(fd)
        remove_quietly(path)
        raise
    os.close(fd)


def rewrite_file(path, data):
    """Replace the contents of the existing regular file *path* (no link is followed)."""
    import stat as _stat
    fd = os.open(path, os.O_WRONLY | _SAFE_OPEN_FLAGS)
    try:
        if not _stat.S_ISREG(os.fstat(fd).st_mode):
            raise OddFileError(_errno.EINVAL, 'not a regular file', path)
        os.ftruncate(fd, 0)
        os.write(fd, data)
    finally:
        os.close(fd)


def open_lock_file(path, create=True):
    """Open the lock file *path* without following a link or blocking; the fd.

    With *create* the file is created (mode 0600) if missing; without it a
    missing file is ENOENT. :class:`OddFileError` (and the fd closed) if it is
    not a regular file: a FIFO, a device or a directory planted in its place.
    The fd is not inherited by programs this process starts.
    """
    import stat as _stat
    flags = os.O_RDWR | _SAFE_OPEN_FLAGS | getattr(os, 'O_CLOEXEC', 0)
    fd = os.open(path, flags | os.O_CREAT if create else flags, 0o600)
    try:
        if not _stat.S_ISREG(os.fstat(fd).st_mode):
            raise OddFileError(_errno.EINVAL, 'not a regular file', path)
        set_non_inheritable(fd)
    except BaseException:
        os.close(fd)
        raise
    return fd


def try_lock_fd(platform, fd, lock_module=None, shared=False):
    """Take the exclusive lock on the open file *fd* if nobody holds it: True, else False.

    Never waits. POSIX: ``flock(fd, LOCK_EX | LOCK_NB)`` (``LOCK_SH`` with
    *shared*: a probe that conflicts only with exclusive holders), False on EWOULDBLOCK;
    Windows: ``msvcrt.locking(fd, LK_NBLCK, 1)`` on the first byte, False on
    EACCES or EDEADLOCK. The lock conflicts with any other open of the file,
    in this process too, and the kernel drops it when its holder dies (SIGKILL
    included). Other errors propagate. *lock_module* replaces
    ``fcntl``/``msvcrt`` (tests pass a fake).
    """
    if platform.file_locking == 'msvcrt':
        msvcrt = lock_module or __import__('msvcrt')
        os.lseek(fd, 0, 0)  # msvcrt locks from the current position
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except (IOError, OSError) as exc:
            if exc.errno in (_errno.EACCES, getattr(_errno, 'EDEADLOCK', _errno.EDEADLK)):
                return False
            raise
        return True
    fcntl = lock_module or __import__('fcntl')
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except (IOError, OSError) as exc:
        if exc.errno in (_errno.EWOULDBLOCK, _errno.EAGAIN, _errno.EACCES):
            return False
        raise
    return True


#: open() errors that mean "this entry is not one we can use": a symbolic link
#: (ELOOP; EMLINK on FreeBSD), no permission, a socket file (ENXIO), a directory
#: opened for writing (EISDIR), a component that is not a directory.
_ODD_ENTRY_ERRNOS = tuple(getattr(_errno, name) for name in (
    'ELOOP', 'EMLINK', 'EACCES', 'EPERM', 'ENXIO', 'EISDIR', 'ENOTDIR', 'EOPNOTSUPP',
    'EFTYPE') if hasattr(_errno, name))
def open_entry(platform, path, create, write=False, mode=0o644):
    """Open the lease entry *path* for locking; ``(fd, created)``.

    Read-only (so that entries another user created can be locked too), or
    read-write with *write*. Never follows a symbolic link, never blocks (a
    FIFO is refused, not waited on), and the fd is not inherited by programs
    this process starts. With *create* a missing entry is created with
    exactly *mode* (the umask does not narrow it: other users must be able to
    open it); ``created`` says whether this call made it. ENOENT if it is
    missing and not *create* (or the directory is missing). :class:`OddFileError`
    for an entry this process cannot use: a link, FIFO, socket, directory or
    device, an entry it may not open, or (with *write*) one owned by another
    user or with more than one name (a hard link). Other OS errors (EMFILE,
    ENOSPC) propagate.
    """
    import stat as _stat
    flags = (os.O_RDWR if write else os.O_RDONLY) | _SAFE_OPEN_FLAGS | getattr(
        os, 'O_CLOEXEC', 0) | getattr(os, 'O_NOINHERIT', 0) | getattr(os, 'O_BINARY', 0)
    created = False
    try:
        if create:
            try:
                fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, mode)
                created = True
            except (OSError, IOError) as exc:
                if exc.errno != _errno.EEXIST:
                    raise
                fd = os.open(path, flags)
        else:
            fd = os.open(path, flags)
    except (OSError, IOError) as exc:
        if exc.errno in _ODD_ENTRY_ERRNOS:
            raise OddFileError(exc.errno, 'cannot be opened (%s)' % (exc.strerror,), path)
        raise
    try:
        info = os.fstat(fd)
        if not _stat.S_ISREG(info.st_mode):
            raise OddFileError(_errno.EINVAL, 'not a regular file', path)
        if created and platform.dir_privacy == 'owner_mode':
            os.fchmod(fd, mode)
        uid = user_id()
        if write and (info.st_nlink != 1 or (uid is not None and info.st_uid != uid)):
            raise OddFileError(_errno.EPERM, 'owned by uid %d or hard-linked' % info.st_uid,
                               path)
        set_non_inheritable(fd)
    except BaseException:
        os.close(fd)
        raise
    return fd, created


def same_file(fd, path):
    """True if *path* (not followed if a link) still names the file open as *fd*."""
    try:
        now = os.lstat(path)
    except (OSError, IOError):
        return False
    info = os.fstat(fd)
    return (now.st_dev, now.st_ino) == (info.st_dev, info.st_ino)


def shared_dir_problem(platform, path, lstat=None):
    """None if *path* is a directory every user may safely share, else what is wrong.

    Safe means: a real directory (not a symbolic link), world-writable with
    the sticky bit (so that nobody but its owner and root can remove or
    rename another user's entries), in a parent that nobody but its owner
    can write or that is sticky too (so that nobody can swap it). On Windows
    (ACLs, no sticky bit) never: the answer says so. Errors from *lstat*
    (default ``os.lstat``), such as a missing path, propagate.
    """
    import stat as _stat
    if platform.dir_privacy != 'owner_mode':
        return 'this system has no sticky directories'
    lstat = lstat or os.lstat
    info = lstat(path)
    if _stat.S_ISLNK(info.st_mode):
        return 'is a symbolic link'
    if not _stat.S_ISDIR(info.st_mode):
        return 'is not a directory'
    if (info.st_mode & 0o1003) != 0o1003:
        return ('is not world-writable with the sticky bit (mode %04o, expected 1777)'
                % _stat.S_IMODE(info.st_mode))
    parent = lstat(os.path.dirname(os.path.abspath(path)) or os.sep)
    if parent.st_mode & 0o022 and not parent.st_mode & _stat.S_ISVTX:
        return ('is in a directory others can write without the sticky bit (mode %04o)'
                % _stat.S_IMODE(parent.st_mode))
    return None


def make_shared_dir(path):
    """Create the directory *path* with mode 1777 if it is missing, atomically.

    It is made as a hidden sibling, given its mode, then renamed into place,
    so that no one ever sees it with another mode. Nothing happens if
    something is there already (whatever it is: check it with
    :func:`shared_dir_problem`). OS errors other than a lost race propagate.
    """
    try:
        os.lstat(path)
        return
    except (OSError, IOError) as exc:
        if exc.errno != _errno.ENOENT:
            raise
    parent, name = os.path.split(os.path.abspath(path))
    staging = os.path.join(parent, '.%s-new-%s' % (name, random_suffix()))
    os.mkdir(staging, 0o700)
    try:
        os.chmod(staging, 0o1777)
        os.rename(staging, path)
    except (OSError, IOError) as exc:
        if exc.errno not in (_errno.EEXIST, _errno.ENOTEMPTY, _errno.EPERM, _errno.EBUSY,
                             _errno.EACCES):
            raise
    finally:
        try:
            os.rmdir(staging)
        except (OSError, IOError):
            pass  # renamed into place


def fallback_registry_dir(platform, environ, hostname):
    """Where a user's registry goes when the default location belongs to someone else.

    Under the user's home directory, which no other user can create entries in,
    keyed by host name (home directories are often shared between machines):
    ``~/.cache/testsupport/ports-<host>`` (``$XDG_CACHE_HOME`` if set). None on
    Windows, whose default is already per-user, and where no home is known.
    Relative paths are ignored (the XDG spec says so: they would depend on the
    working directory).
    """
    if platform.registry_home == 'localappdata':
        return None
    cache = environ.get('XDG_CACHE_HOME', '')
    if not os.path.isabs(cache):
        home = environ.get('HOME', '')
        cache = os.path.join(home, '.cache') if os.path.isabs(home) else None
    if not cache:
        return None
    return os.path.join(cache, 'testsupport', 'ports-%s' % (hostname or 'localhost',))


def host_name():
    """This machine's host name, for keying per-machine state ('' if unknown)."""
    try:
        return socket.gethostname()
    except (OSError, socket.error):
        return ''


def fd_soft_limit():
    """This process's soft limit on open file descriptors, or None where unknown (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return None if soft == resource.RLIM_INFINITY or soft <= 0 else soft


def set_non_inheritable(fd):
    """Keep *fd* from being inherited by programs this process starts (FD_CLOEXEC).

    Python 3 creates descriptors that way already; 2.7 does not.
    """
    try:
        import fcntl
    except ImportError:  # Windows: 2.7 handles are not inherited by default either
        return
    flags = fcntl.fcntl(fd, fcntl.F_GETFD)
    fcntl.fcntl(fd, fcntl.F_SETFD, flags | fcntl.FD_CLOEXEC)


def private_dir_problem(platform, path, uid, lstat=None):
    """None if *path* is a directory that only user *uid* can write, else what is wrong.

    The answer is text for an error message, e.g. ``'is owned by uid 12345, not
    by you (uid 0)'`` or ``'is writable by group or others (mode 0777)'``. On
    Windows (no uid; ACLs, not mode bits) only "is a directory" is checked:
    ``%LOCALAPPDATA%`` is per-user. Errors from *lstat* (default ``os.lstat``),
    such as a missing path, propagate.
    """
    import stat as _stat
    info = (lstat or os.lstat)(path)
    if _stat.S_ISLNK(info.st_mode):
        return 'is a symbolic link'
    if not _stat.S_ISDIR(info.st_mode):
        return 'is not a directory'
    if platform.dir_privacy == 'acl' or uid is None:
        return None
    if info.st_uid != uid:
        return 'is owned by uid %d, not by you (uid %d)' % (info.st_uid, uid)
    if info.st_mode & 0o022:
        return 'is writable by group or others (mode %04o)' % _stat.S_IMODE(info.st_mode)
    return None


def default_registry_dir(platform, environ, tempdir, uid, lstat=None):
    """Where the port registry of user *uid* lives by default.

    Windows: ``%LOCALAPPDATA%\\testsupport`` (the temp directory if unset).
    Elsewhere: ``$XDG_RUNTIME_DIR/testsupport`` when that directory is set and
    private to *uid*, else ``<tempdir>/testsupport-<uid>``.
    """
    if platform.registry_home == 'localappdata':
        return os.path.join(environ.get('LOCALAPPDATA') or tempdir, 'testsupport')
    runtime = environ.get('XDG_RUNTIME_DIR')
    if runtime:
        try:
            problem = private_dir_problem(platform, runtime, uid, lstat)
        except (OSError, IOError):
            problem = 'is missing'
        if problem is None:
            return os.path.join(runtime, 'testsupport')
    return os.path.join(tempdir, 'testsupport-%s' % (uid,))


def random_suffix():
    """12 hex digits from os.urandom (forked children never repeat their parent's)."""
    import binascii
    return binascii.hexlify(os.urandom(6)).decode('ascii')


def list_directory(path):
    """``os.listdir(path)`` (a seam tests replace)."""
    return os.listdir(path)
