"""The CLI's detached lease holder: leases that outlive the process that took them.

The ``port`` command prints ports and exits, yet their leases must last:
:class:`Keeper` hands them on through the store's ``detach()``. For kernel
names that means a small detached process, started by :func:`spawn_holder`
and running :func:`hold_main`, which keeps the listening sockets until their
expiry and answers ``release`` requests (``KernelStore.request_release``)
from processes of the same user.
"""
from __future__ import absolute_import, division, print_function

import os
import socket

from . import _compat, _system, platform_shim

__all__ = [
    'Keeper',
    'hold_main',
    'spawn_holder',
]


class Keeper(object):
    """Detached leases taken by this process, to be handed on or given back.

    ``hold()`` makes them outlive this process until *until*, through the
    store's ``detach()``: kernel names are passed to a small detached holder
    process (:func:`spawn_holder`; it answers ``release`` requests and exits at
    *until*); file entries are marked detached (until then they are this
    process's, so a kill before ``hold()`` leaves them stale); memory leases
    cannot outlive the process (a warning says so). ``give_back()`` ends them
    all now.
    """

    def __init__(self, store, handles, until):
        self.store, self.handles, self.until = store, list(handles), until

    def hold(self):
        """Hand the leases on to outlive this process (OSError if the holder fails to start)."""
        try:
            if self.handles:
                self.store.detach(self.handles, self.until)
        finally:
            self._close()

    def give_back(self):
        for handle in self.handles:
            try:
                self.store.release(handle)
            except _compat.OS_ERRORS:
                pass
        self.handles = []

    def _close(self):
        for handle in self.handles:
            self.store.forget(handle)  # our copy: the holder has its own
        self.handles = []


def spawn_holder(socks, until):
    """Start the detached holder of the listening *socks* until *until* (OSError if it fails)."""
    import fcntl
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # A socket may have taken fd 0, 1 or 2 (the command ran with them closed),
    # which Popen points at /dev/null in the child: pass copies above them
    # (only of those: copying all would double the descriptors, -n 1000).
    fds = [sock.fileno() for sock in socks]
    copies = [fcntl.fcntl(fd, fcntl.F_DUPFD, 3) for fd in fds if fd <= 2]
    try:
        _start_holder(root, [fd for fd in fds if fd > 2] + copies, until)
    finally:
        for fd in copies:
            os.close(fd)


def _start_holder(root, fds, until):
    import sys
    # The holder first closes what it inherited beyond the sockets (2.7 cannot
    # pass just those), then runs hold_main.
    code = ('import os, sys\n'
            'keep = set(int(a) for a in sys.argv[3:])\n'
            'for name in os.listdir("/proc/self/fd"):\n'
            '    if int(name) > 2 and int(name) not in keep:\n'
            '        try:\n'
            '            os.close(int(name))\n'
            '        except OSError:\n'
            '            pass\n'
            'sys.path.insert(0, sys.argv[1])\n'
            'from testsupport import _holder\n'
            '_holder.hold_main(sys.argv[2:])\n')
    # No -S: in a 2.7 virtualenv the standard library is only found through site.
    argv = [sys.executable, '-c', code, root, repr(float(until))] + [str(fd) for fd in fds]
    # The child forks the holder once it has the sockets, and exits: wait for
    # it, so that no zombie and no "subprocess is still running"
    # ResourceWarning is left here, and a holder that failed to start is known.
    devnull = open(os.devnull, 'r+b')
    try:
        status = _compat.popen_new_session(argv, fds, stdin=devnull, stdout=devnull,
                                           stderr=devnull, cwd='/').wait()
    finally:
        devnull.close()
    if status != 0:
        raise OSError('the lease holder process (%s) failed to start (exit status %s): the '
                      'ports are not leased beyond this process' % (sys.executable, status))


#: How long the holder waits for a connected requester to say "release".
_REQUEST_SECONDS = 2.0
#: Requests the holder waits on at once; older ones are dropped beyond this.
_MAX_PENDING = 32


def hold_main(args):
    """The detached holder: keep the inherited listening sockets until the expiry in *args*.

    A connection from a process of the same user (or root) asking ``release``
    closes the socket it reached; the holder exits when none is left or at the
    expiry. Runs in its own session with stdio on /dev/null, forked off the
    process its spawner waits for (so it is nobody's zombie when it exits).
    Nothing blocks: a client that connects and says nothing is dropped after
    a while without delaying anyone else's request.
    """
    import select
    import time
    until = float(args[0])
    platform = platform_shim.current()
    socks = {}
    for text in args[1:]:
        fd = int(text)
        sock = socket.fromfd(fd, platform.af_unix, socket.SOCK_STREAM)
        os.close(fd)
        sock.setblocking(False)
        socks[sock.fileno()] = sock
    poller = select.poll()
    for fd in socks:
        poller.register(fd, select.POLLIN)
    uid = _system.user_id()
    if os.fork() != 0:
        os._exit(0)
    pending = {}  # connection fd -> (connection, listening socket, deadline)

    def drop(fd):
        conn = pending.pop(fd)[0]
        poller.unregister(fd)
        conn.close()

    while socks:
        now = time.time()
        if now >= until:
            break
        for fd in [fd for fd, entry in pending.items() if entry[2] <= now]:
            drop(fd)
        wait = min([until - now, 3600.0] + [entry[2] - now for entry in pending.values()])
        for fd, _event in poller.poll(max(wait, 0.0) * 1000.0):
            if fd in socks:
                conn = _accept_request(socks[fd], platform, uid)
                if conn is None:
                    continue
                while len(pending) >= _MAX_PENDING:
                    drop(min(pending, key=lambda key: pending[key][2]))
                # The time now, not before poll(): that may have waited for hours.
                pending[conn.fileno()] = (conn, socks[fd], time.time() + _REQUEST_SECONDS)
                poller.register(conn.fileno(), select.POLLIN)
            elif fd in pending:
                conn, sock = pending[fd][:2]
                if _is_release(conn) and socks.get(sock.fileno()) is sock:
                    # Closed before answering: the name is free once "ok" is heard.
                    poller.unregister(sock.fileno())
                    del socks[sock.fileno()]
                    sock.close()
                    try:
                        conn.sendall(b'ok\n')
                    except _compat.OS_ERRORS:
                        pass  # the requester left: released all the same
                drop(fd)


def _accept_request(sock, platform, uid):
    """A connection on *sock* from this user (or root), non-blocking; None otherwise."""
    try:
        conn, _addr = sock.accept()
    except _compat.OS_ERRORS:
        return None
    if _system.peer_uid(platform, conn) not in (uid, 0):
        conn.close()
        return None
    conn.setblocking(False)
    return conn


def _is_release(conn):
    try:
        return conn.recv(16).startswith(b'release')
    except _compat.OS_ERRORS:
        return False
