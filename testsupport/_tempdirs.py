"""Locked temporary directories: made by a live process, swept once it is certainly dead.

The creator holds a lock on ``<dir>/.lock`` for the directory's whole life
(chosen by the platform's ``file_locking`` field); a sweep removes a directory
only when it can take that lock itself, so a live process in another pid
namespace or container sharing the base is never touched. Used for the private
AF_UNIX socket directories (``tsu-*``) and any other directory the package makes.
"""
from __future__ import absolute_import, division, print_function

import errno as _errno
import os

from . import _system

__all__ = [
    'LOCK_FILE_NAME',
    'STAGING_MAX_AGE',
    'make_locked_dir',
    'remove_tree_quietly',
    'staging_prefix',
    'sweep_dead_dirs',
]


def remove_tree_quietly(path):
    """Remove the directory *path* and its contents; a missing one is fine.

    If this process made *path* with :func:`make_locked_dir`, its lock fd is
    closed too: after the removal on POSIX, so that no sweep sees the
    directory unlocked while it exists; before it on Windows, which cannot
    remove an open file. Other errors propagate (the lock fd is closed all
    the same).
    """
    held = _release_held(path)
    if held is None:
        _remove_tree(path)
        return
    fd, platform = held
    if platform.file_locking == 'msvcrt':
        os.close(fd)
        _remove_tree(path)
        return
    try:
        _remove_tree(path)
    finally:
        os.close(fd)


def _remove_tree(path):
    try:
        import shutil
        shutil.rmtree(path)
    except (OSError, IOError) as exc:
        if exc.errno != _errno.ENOENT:
            raise


# -- Locked directories: temporary directories whose creator's life a lock proves.


#: The lock file inside every directory make_locked_dir() makes.
LOCK_FILE_NAME = '.lock'
#: A staging directory (a creator between mkdir and rename) older than this is a leftover.
STAGING_MAX_AGE = 600.0
#: Attempts at a fresh name before make_locked_dir() gives up.
_NAME_ATTEMPTS = 20
#: path -> (pid, fd, platform) of the locked directories this process made.
_held = {}  # type: dict[str, tuple[int, object]]
#: Holds _remove_held_dirs once it is registered with atexit.
_exit_hook = []  # type: list[object]
def staging_prefix(prefix):
    """The name prefix of *prefix*'s directories while they are made: ``.<prefix>new-``.

    It does not start with *prefix*, so no sweep of *prefix* judges a
    directory by its lock before the lock is held.
    """
    return '.%snew-' % (prefix,)


def make_locked_dir(platform, base, prefix, lock_module=None):
    """Create ``<base>/<prefix><12 hex digits>`` (mode 0700), locked while this process lives.

    The directory holds the lock file :data:`LOCK_FILE_NAME`, which this
    process keeps open and exclusively locked (:func:`try_lock_fd`) until
    :func:`remove_tree_quietly` removes the directory or the process exits
    (an atexit handler removes what is left); the kernel drops the lock if
    the process dies otherwise, and :func:`sweep_dead_dirs` then removes the
    directory. No directory is ever visible under *prefix* without its lock
    held: it is made as ``<base>/.<prefix>new-<hex>``, locked, then renamed.
    The path is ``len(base) + len(prefix) + 13`` bytes long. A child forked
    from this process shares the lock; its exit does not remove the directory. OS errors (EACCES, ENOSPC, a missing *base*) propagate.
    *lock_module* replaces ``fcntl``/``msvcrt`` (tests pass a fake).
    """
    error = None
    for _ in range(_NAME_ATTEMPTS):
        suffix = _system.random_suffix()
        staging = os.path.join(base, staging_prefix(prefix) + suffix)
        path = os.path.abspath(os.path.join(base, prefix + suffix))
        try:
            os.mkdir(staging, 0o700)
        except (OSError, IOError) as exc:
            if not _system.is_file_exists_error(exc):
                raise
            error = exc
            continue
        try:
            fd = _system.open_lock_file(os.path.join(staging, LOCK_FILE_NAME))
        except (OSError, IOError, _system.OddFileError) as exc:  # ENOENT: swept as stale staging
            _remove_staging(staging)
            if not _system.is_file_missing_error(exc):
                raise
            error = exc
            continue
        try:
            locked = _system.try_lock_fd(platform, fd, lock_module)
            if locked:
                os.rename(staging, path)
        except (OSError, IOError) as exc:  # ENOENT (swept), EEXIST/ENOTEMPTY/ENOTDIR (taken)
            locked, error = False, exc
        if locked:
            if not _exit_hook:
                import atexit
                atexit.register(_remove_held_dirs)
                _exit_hook.append(_remove_held_dirs)
            _held[path] = (os.getpid(), fd, platform)
            return path
        os.close(fd)
        _remove_staging(staging)
    raise OSError(getattr(error, 'errno', _errno.EEXIST),
                  'make_locked_dir(): no new %s* directory in %s after %d tries (last: %s); '
                  'check that nothing else creates entries with that prefix there'
                  % (prefix, base, _NAME_ATTEMPTS, error))


def _remove_staging(staging):
    try:
        remove_tree_quietly(staging)
    except (OSError, IOError):
        pass


def _release_held(path):
    """Forget *path*; return ``(fd, platform)`` if this process made it (or its parent did)."""
    entry = _held.pop(os.path.abspath(path), None)
    return None if entry is None else entry[1:]


def _remove_held_dirs():
    """At exit: remove the locked directories this process made, close their lock fds.

    A child forked from their maker only closes its copies of the fds: the
    flock belongs to the open file, which the maker still holds.
    """
    for path, (pid, fd, _) in list(_held.items()):
        try:
            if pid == os.getpid():
                remove_tree_quietly(path)
            else:
                del _held[path]
                os.close(fd)
        except (OSError, IOError):
            pass


def _is_held_here(path):
    """True if this process (or the one it was forked from) made *path*."""
    return os.path.abspath(path) in _held


def sweep_dead_dirs(platform, base, prefix, uid, now=None, lock_module=None):
    """Remove the directories of *base* that :func:`make_locked_dir` made for *prefix*
    and whose creator has died; return how many went.

    A ``<prefix>*`` entry goes only if it is a directory (not a symbolic link)
    owned by *uid* (None: not checked, as on Windows) whose lock file is a
    regular file, opened without following a link or blocking, that this call
    can lock itself: the kernel holds the lock for its creator until that
    process dies, in whatever pid namespace or container it runs. The lock is
    held while the directory is removed. Anything else is left alone: a live
    creator's directory, directories of other users, links, FIFOs, entries
    without a lock file (not made by make_locked_dir), and entries that vanish
    or cannot be read meanwhile; none of them stops the sweep.

    The one judgement by time: a staging directory (``.<prefix>new-*``, a
    creator between mkdir and rename) older than :data:`STAGING_MAX_AGE`
    (10 minutes; its creator needs microseconds) whose lock file, if any, is
    not held, is removed too. That is safe even for a creator stopped that
    long: it finds its staging directory gone (ENOENT) and starts again
    under a new name. *now* replaces ``time.time()``.
    """
    import stat as _stat
    import time
    now = time.time() if now is None else now
    staging = staging_prefix(prefix)
    try:
        names = _system.list_directory(base)
    except (OSError, IOError):
        return 0
    removed = 0
    for name in names:
        if name.startswith(prefix):
            max_age = None
        elif name.startswith(staging):
            max_age = STAGING_MAX_AGE
        else:
            continue
        path = os.path.join(base, name)
        if _is_held_here(path):
            continue  # ours (NFS emulates flock with per-process locks: don't ask it)
        try:
            info = os.lstat(path)
        except (OSError, IOError):
            continue
        if not _stat.S_ISDIR(info.st_mode) or (uid is not None and info.st_uid != uid):
            continue
        if max_age is not None and now - max(info.st_mtime, info.st_ctime) <= max_age:
            continue
        if _remove_if_unlocked(platform, path, info, max_age is not None, lock_module):
            removed += 1
    return removed


def _remove_if_unlocked(platform, path, info, lock_optional, lock_module):
    """Remove the directory *path* (lstat *info*) if its lock file can be locked here.

    With *lock_optional* (a stale staging directory) a missing lock file is fine.
    """
    import stat as _stat
    try:
        fd = _system.open_lock_file(os.path.join(path, LOCK_FILE_NAME), create=False)
    except (OSError, IOError, _system.OddFileError) as exc:  # _system.OddFileError is neither on 2.7
        if not (lock_optional and _system.is_file_missing_error(exc)):
            return False  # no lock file, a link (ELOOP), a FIFO or device (_system.OddFileError)
        fd = None
    try:
        if fd is not None and not _system.try_lock_fd(platform, fd, lock_module):
            return False  # its creator is alive
        now = os.lstat(path)  # still the directory we judged, not a link put in its place
        if not _stat.S_ISDIR(now.st_mode) or (now.st_dev, now.st_ino) != (info.st_dev,
                                                                          info.st_ino):
            return False
        if fd is not None and platform.file_locking == 'msvcrt':
            os.close(fd)  # Windows cannot remove an open file
            fd = None
        remove_tree_quietly(path)
        return True
    except (OSError, IOError):
        return False
    finally:
        if fd is not None:
            os.close(fd)
