"""Processes: peer credentials, descriptor clean-up, process state, trees and signals.

Who is at the other end of an AF_UNIX socket, which processes hold a socket,
what a process runs, its descendants, and signalling a process group. Chosen
by the platform's ``so_peercred``, ``port_discovery`` and ``process_groups``
fields; the system calls are parameters, so tests describe macOS and Windows
with fakes. Nothing here decides that a process is alive from its pid: a
holder is alive exactly as long as the kernel holds something for it (a lock,
a name, a pipe).
"""
from __future__ import absolute_import, division, print_function

import errno as _errno
import os
import socket

from . import _system

__all__ = [
    'close_fds_except',
    'connect_unix',
    'peer_credentials',
    'peer_uid',
    'process_command_line',
    'process_state',
    'process_tree',
    'read_symlink',
    'signal_process_group',
    'unix_socket_pids',
]


def peer_uid(platform, sock):
    """The user id of the process at the other end of the AF_UNIX socket *sock*, or None."""
    credentials = peer_credentials(platform, sock)
    return None if credentials is None else credentials[1]


def peer_credentials(platform, sock):
    """``(pid, uid, gid)`` of the other end of the connected AF_UNIX socket *sock*, or None.

    Linux (``SO_PEERCRED``): the process that connected, or for a client the
    one that last called ``listen()`` on the socket it reached; the pid is 0
    when that process is not visible from this pid namespace. None where the
    platform cannot tell.
    """
    if platform.so_peercred is None:
        return None
    import struct
    try:
        data = sock.getsockopt(platform.sol_socket, platform.so_peercred, struct.calcsize('3i'))
    except (OSError, socket.error):
        return None
    return struct.unpack('3i', data)


def connect_unix(sock, address):
    """Connect the non-blocking AF_UNIX stream socket *sock* to *address*, without waiting.

    ``'connected'``, ``'busy'`` (the listener's queue is full: EAGAIN, worth
    retrying) or ``'refused'`` (nothing listens on *address*: ECONNREFUSED,
    ENOENT); other errors propagate.
    """
    try:
        sock.connect(address)
    except (OSError, socket.error) as exc:
        if exc.errno in (_errno.EAGAIN, _errno.EWOULDBLOCK):
            return 'busy'
        if exc.errno in (_errno.ECONNREFUSED, _errno.ENOENT):
            return 'refused'
        raise
    return 'connected'


def close_fds_except(keep, list_dir=None, closerange=None):
    """Close every descriptor above 2 but those in *keep* (a process that inherited too many).

    Reads the open descriptors from ``/proc/self/fd`` (Linux) or
    ``/dev/fd``; where neither can be listed, closes every number up to the
    descriptor limit around the kept ones (``os.closerange``). *list_dir* and
    *closerange* replace ``os.listdir`` and ``os.closerange`` (tests pass fakes).
    """
    keep = set(keep)
    list_dir = list_dir or os.listdir
    closerange = closerange or os.closerange
    for directory in ('/proc/self/fd', '/dev/fd'):
        try:
            fds = [_system.to_int(name) for name in list_dir(directory)]
        except (OSError, IOError):
            continue
        if None in fds or not keep <= set(fds):
            continue  # not the truth: /dev/fd without fdescfs (the BSDs) lists 0-2 only
        for fd in fds:
            if fd > 2 and fd not in keep:
                try:
                    os.close(fd)
                except (OSError, IOError):
                    pass  # the descriptor listdir() used, closed by now
        return
    limit = _system.fd_soft_limit() or 65536
    low = 3
    for fd in sorted(k for k in keep if k > 2) + [limit]:
        if fd > low:
            closerange(low, fd)
        low = max(low, fd + 1)


def process_state(platform, pid, read_file=None):
    """The state letter of process *pid* (``'R'``, ``'S'``, ``'T'`` for stopped...), or None.

    Linux reads ``/proc/<pid>/stat``; elsewhere None (unknown).
    """
    if platform.process_table != 'procfs':
        return None
    stat = _linux_proc_stat(pid, read_file or _system.read_text_file)
    return None if stat is None else stat[0]


def process_command_line(platform, pid, read_file=None):
    """The arguments process *pid* was started with (a list of str), or None if unknown.

    Linux reads ``/proc/<pid>/cmdline``; elsewhere None.
    """
    if platform.process_table != 'procfs':
        return None
    text = (read_file or _read_text_lossy)('/proc/%d/cmdline' % pid)
    if not text:
        return None
    return text.rstrip('\0').split('\0')


def _read_text_lossy(path):
    """The text of *path*, undecodable bytes replaced, or None if it cannot be read."""
    try:
        with open(path, 'rb') as fp:
            data = fp.read()
    except (IOError, OSError):
        return None
    return data if isinstance(data, str) else data.decode('utf-8', 'replace')


def unix_socket_pids(platform, address, read_file=None, list_dir=None, read_link=None):
    """Pids of the processes, other than this one, with a socket bound to *address* open.

    *address* is an abstract AF_UNIX name (bytes starting with NUL). Linux
    matches the socket inodes of ``/proc/net/unix`` against ``/proc/<n>/fd``,
    which shows only the processes this user may inspect; elsewhere ``[]``.
    *read_file*, *list_dir* and *read_link* replace file reading,
    ``os.listdir`` and ``os.readlink`` (tests pass fakes).
    """
    if platform.port_discovery != 'procfs':
        return []
    read_file = read_file or _system.read_text_file
    list_dir = list_dir or _system.list_directory
    read_link = read_link or read_symlink
    shown = '@' + address[1:].decode('ascii', 'replace').replace('\0', '@')
    table = read_file('/proc/net/unix') or ''
    inodes = set()
    for line in table.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8 and fields[7] == shown:
            inodes.add('socket:[%s]' % fields[6])
    if not inodes:
        return []
    try:
        names = list_dir('/proc')
    except (OSError, IOError):
        return []
    pids = []
    for name in names:
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            fds = list_dir('/proc/%s/fd' % name)
        except (OSError, IOError):
            continue
        for fd in fds:
            try:
                if read_link('/proc/%s/fd/%s' % (name, fd)) in inodes:
                    pids.append(int(name))
                    break
            except (OSError, IOError):
                continue
    return sorted(pids)


def _linux_proc_stat(pid, read_file):
    """``(state,)`` from ``/proc/<pid>/stat``, or None if unreadable."""
    text = read_file('/proc/%d/stat' % pid)
    if not text or ')' not in text:
        return None
    fields = text.rsplit(')', 1)[1].split()
    return (fields[0],) if fields else None


def read_symlink(path):
    """``os.readlink(path)`` (a seam tests replace)."""
    return os.readlink(path)


def process_tree(platform, pid, read_file=None, list_dir=None):
    """*pid* and every process descending from it or in its process group, sorted.

    Linux reads the parent and group ids in ``/proc/<n>/stat``; a child that
    daemonised (re-parented to init) is still found while it keeps the process
    group. Elsewhere ``[pid]``: ``lsof -g`` selects the whole group itself, and
    Windows has no process groups. *read_file* and *list_dir* replace file
    reading and ``os.listdir`` (tests pass fakes).
    """
    if platform.port_discovery != 'procfs':
        return [pid]
    read_file = read_file or _system.read_text_file
    list_dir = list_dir or _system.list_directory
    try:
        names = list_dir('/proc')
    except (OSError, IOError):
        return [pid]
    parents = {}
    found = set([pid])
    for name in names:
        if not name.isdigit():
            continue
        text = read_file('/proc/%s/stat' % name)
        if not text or ')' not in text:
            continue
        fields = text.rsplit(')', 1)[1].split()  # state, ppid, pgrp, ...
        if len(fields) < 3:
            continue
        parents[int(name)] = int(fields[1])
        if int(fields[2]) == pid:
            found.add(int(name))
    grown = True
    while grown:
        grown = False
        for child, parent in parents.items():
            if parent in found and child not in found:
                found.add(child)
                grown = True
    return sorted(found)


def signal_process_group(platform, process, hard, killpg=None):
    """Ask (SIGTERM) or, with *hard*, force (SIGKILL) *process* and its group to end.

    POSIX: ``killpg(process.pid, ...)``: the child leads its own process group
    (``start_new_session``), so its children get the signal too. Windows has no
    groups: ``process.terminate()``, which is already forceful. Returns False
    if nothing was left to signal (ESRCH, or EPERM: macOS' answer for a group
    of zombies), else True. *killpg* replaces ``os.killpg`` (tests pass a fake).
    """
    if not platform.process_groups:
        if process.poll() is not None:
            return False
        try:
            process.kill() if hard else process.terminate()
        except (OSError, IOError):  # exited meanwhile
            return False
        return True
    import signal
    killpg = killpg or os.killpg
    try:
        killpg(process.pid, signal.SIGKILL if hard else signal.SIGTERM)
    except (OSError, IOError) as exc:
        if exc.errno in (_errno.ESRCH, _errno.EPERM):
            return False
        raise
    return True
