"""The CLI's detached lease holder: leases that outlive the process that took them.

The ``port`` command prints ports and exits, yet their leases must last:
:class:`Keeper` hands them on through the store's ``detach()``. For kernel
names that means a small detached process, started by :func:`spawn_holder`
as ``python -m testsupport._holder --until <expiry> --fds <descriptors>``
and running :func:`hold_main`, which keeps the listening sockets until their
expiry and answers :func:`request_release` (``KernelStore.request_release``,
the ``release`` command) from processes of the same user; a holder that does
not answer is named in a :class:`HolderNotAnsweringError`.
"""
from __future__ import absolute_import, division, print_function

import os
import socket
import sys
import time

from . import _compat, _processes, _system, platform_shim

__all__ = [
    'HolderNotAnsweringError',
    'Keeper',
    'RELEASE_SECONDS',
    'hold_main',
    'holder_expiry',
    'main',
    'request_release',
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
    # A socket may have taken fd 0, 1 or 2 (the command ran with them closed),
    # which Popen points at /dev/null in the child: pass copies above them
    # (only of those: copying all would double the descriptors, -n 1000).
    fds = [sock.fileno() for sock in socks]
    copies = [fcntl.fcntl(fd, fcntl.F_DUPFD, 3) for fd in fds if fd <= 2]
    try:
        _start_holder([fd for fd in fds if fd > 2] + copies, until)
    finally:
        for fd in copies:
            os.close(fd)


def holder_argv(fds, until):
    """The holder's command line: one short line that says what it is.

    ``[python, '-m', 'testsupport._holder', '--until', '1733333333', '--fds',
    '3-7,9']``: *until* rounded up to a whole second, *fds* as ranges.
    """
    import math
    return [sys.executable, '-m', __name__, '--until', '%d' % math.ceil(until),
            '--fds', _format_fds(fds)]


def _format_fds(fds):
    """``'3-7,9'`` for [3, 4, 5, 6, 7, 9]."""
    ranges = []
    for fd in sorted(set(fds)):
        if ranges and ranges[-1][1] == fd - 1:
            ranges[-1][1] = fd
        else:
            ranges.append([fd, fd])
    return ','.join('%d' % low if low == high else '%d-%d' % (low, high)
                    for low, high in ranges)


def _parse_fds(text):
    fds = []
    for part in text.split(','):
        low, _dash, high = part.partition('-')
        fds.extend(range(int(low), int(high or low) + 1))
    return fds


def _package_root():
    """The directory holding the top-level package (a checkout, site-packages, a --target)."""
    path = os.path.abspath(__file__)
    for _level in range(__name__.count('.') + 1):
        path = os.path.dirname(path)
    return path


def _start_holder(fds, until):
    # -m finds the package through PYTHONPATH, set in the child's environment
    # only: it runs from a checkout, a wheel installed anywhere, on 2.7 too.
    # No -S: in a 2.7 virtualenv the standard library is only found through site.
    env = dict(os.environ)
    paths = [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p]
    env['PYTHONPATH'] = os.pathsep.join(
        [_package_root()] + [p for p in paths if p != _package_root()])
    # The child forks the holder once it has the sockets, and exits: wait for
    # it, so that no zombie and no "subprocess is still running"
    # ResourceWarning is left here, and a holder that failed to start is known.
    devnull = open(os.devnull, 'r+b')
    try:
        status = _compat.popen_new_session(holder_argv(fds, until), fds, stdin=devnull,
                                           stdout=devnull, stderr=devnull, cwd='/',
                                           env=env).wait()
    finally:
        devnull.close()
    if status != 0:
        raise OSError('the lease holder process (%s -m %s) failed to start (exit status %s): '
                      'the ports are not leased beyond this process'
                      % (sys.executable, __name__, status))


#: How long the holder waits for a connected requester to say "release".
_REQUEST_SECONDS = 2.0
#: Requests the holder waits on at once; older ones are dropped beyond this.
_MAX_PENDING = 32
#: The queue of connections not yet accepted, per name (the kernel caps it at
#: net.core.somaxconn): room for another user's flood.
_BACKLOG = 1024
#: Connections accepted from one name per wake-up, so that a flood on one name
#: cannot keep the holder from the requests already accepted.
_ACCEPTS_PER_WAKEUP = 64


def main(argv=None):
    """``python -m testsupport._holder --until SECONDS --fds 3-7,9``: hold those sockets.

    Run by :func:`spawn_holder` only. First closes the descriptors it inherited
    beyond those (2.7 cannot pass just those), then runs :func:`hold_main`.
    Exit status 2 for a bad command line, 1 if the holder could not start.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if len(argv) != 4 or argv[0] != '--until' or argv[2] != '--fds':
            raise ValueError(argv)
        until, fds = float(argv[1]), _parse_fds(argv[3])
    except ValueError:
        sys.stderr.write('usage: python -m %s --until SECONDS --fds 3-7,9 (started by the '
                         '"port" command, not by hand); got %r\n' % (__name__, argv))
        return 2
    _processes.close_fds_except(fds)
    hold_main(until, fds)
    return 0


def hold_main(until, fds):
    """The detached holder: keep the inherited listening sockets *fds* until *until*.

    A connection from a process of the same user (or root) asking ``release``
    closes the socket it reached; the holder exits when none is left or at the
    expiry. Runs in its own session with stdio on /dev/null, forked off the
    process its spawner waits for (so it is nobody's zombie when it exits);
    that process exits 0 once the holder listens as itself (so that
    ``SO_PEERCRED`` names the holder to a requester), 1 if it died first.
    Nothing blocks: connections of other users are closed as soon as they are
    accepted, and a client that connects and says nothing is dropped after a
    while without delaying anyone else's request.
    """
    import select
    platform = platform_shim.current()
    socks = {}
    for fd in fds:
        sock = socket.fromfd(fd, platform.af_unix, socket.SOCK_STREAM)
        os.close(fd)
        sock.setblocking(False)
        socks[sock.fileno()] = sock
    uid = _system.user_id()
    ready_r, ready_w = os.pipe()
    if os.fork() != 0:
        os.close(ready_w)
        os._exit(0 if os.read(ready_r, 1) == b'1' else 1)
    os.close(ready_r)
    for sock in socks.values():
        sock.listen(_BACKLOG)  # again, as this process: its pid is what requesters see
    os.write(ready_w, b'1')
    os.close(ready_w)
    poller = select.poll()
    for fd in socks:
        poller.register(fd, select.POLLIN)
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
                for conn in _accept_requests(socks[fd], platform, uid):
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


def _accept_requests(sock, platform, uid):
    """The connections waiting on *sock* from this user (or root), non-blocking.

    Up to ``_ACCEPTS_PER_WAKEUP`` are accepted; those of other users are closed
    at once, so that they cannot fill the queue in front of the owner's.
    """
    conns = []
    for _attempt in range(_ACCEPTS_PER_WAKEUP):
        try:
            conn, _addr = sock.accept()
        except _compat.OS_ERRORS:
            break  # none left (EAGAIN), or the requester gave up meanwhile
        if _processes.peer_uid(platform, conn) not in (uid, 0):
            conn.close()
            continue
        conn.setblocking(False)
        conns.append(conn)
    return conns


def _is_release(conn):
    """True if *conn* asks ``release`` and its requester still waits for the answer.

    ``release <deadline>``: a request read after the requester's deadline (the
    holder was stopped meanwhile) is one it already reported as failed, so it
    changes nothing. A bare ``release`` (no deadline) always counts.
    """
    try:
        words = conn.recv(64).split()
    except _compat.OS_ERRORS:
        return False
    if not words or words[0] != b'release':
        return False
    try:
        return len(words) < 2 or time.time() <= float(words[1])
    except ValueError:
        return False


# -- the requester's side (the release command) ------------------------------------

#: How long :func:`request_release` tries, connecting and waiting for the answer.
RELEASE_SECONDS = 2.0


class HolderNotAnsweringError(socket.timeout):
    """A detached holder of this user has the name but did not answer in time.

    Attributes: ``pid`` (the holder's process id, None if it could not be
    found), ``until`` (when its leases end by themselves, a ``time.time()``
    value, or None), ``stopped`` (it is stopped, e.g. by SIGSTOP) and
    ``seconds`` (how long it was given).
    """

    def __init__(self, address, pid, until, stopped, seconds):
        super(HolderNotAnsweringError, self).__init__(
            'the lease holder of %s (%s) did not answer within %.1f s%s'
            % (address[1:].decode('ascii', 'replace'),
               'pid unknown' if pid is None else 'pid %d' % pid, seconds,
               ' (it is stopped)' if stopped else ''))
        self.pid, self.until, self.stopped, self.seconds = pid, until, stopped, seconds


#: Holders found silent and stopped by this process: asked again while they
#: are still stopped, they fail at once (release 20001 20002 ... of one holder).
_silent_pids = set()  # type: set[int]


def request_release(platform, address, held, timeout=RELEASE_SECONDS):
    """Ask the holder listening on the abstract name *address* to let it go; True if it did.

    False when no holder of this user has it: the name is free (*held()*
    says no), it is held by a process that does not listen (a running test's
    lease), or by another user's holder. A connect that finds the holder's
    queue full (EAGAIN), or refused while the name is held, and a request the
    holder dropped, are tried again after a short pause until *timeout* has
    passed. HolderNotAnsweringError when a holder of this user has the name but
    did not answer within *timeout* (at once when it is one found silent
    before and still stopped).
    """
    deadline = time.time() + timeout
    uid = _system.user_id()
    pause = 0.005
    pid = None
    while True:
        outcome, seen = _ask(platform, address, uid, deadline)
        pid = seen or pid
        if outcome == 'released':
            return True
        if outcome == 'other user' or (outcome == 'refused' and not held()):
            return False
        if outcome == 'silent' or time.time() + pause >= deadline:
            break
        time.sleep(pause)
        pause = min(pause * 2, 0.1)
    if outcome == 'refused':
        return False  # held all along by a process that does not listen: not a holder's
    pid = _holder_pid(platform, address, pid)
    stopped = pid is not None and _processes.process_state(platform, pid) in ('T', 't')
    if stopped:
        _silent_pids.add(pid)
    raise HolderNotAnsweringError(address, pid, holder_expiry(platform, pid), stopped,
                                  timeout)


def _ask(platform, address, uid, deadline):
    """One request: ``(outcome, holder pid or None)``.

    *outcome*: ``'released'``, ``'refused'``, ``'busy'`` (queue full),
    ``'other user'``, ``'dropped'`` (closed without an answer) or
    ``'silent'`` (no answer by *deadline*).
    """
    sock = socket.socket(platform.af_unix, socket.SOCK_STREAM)
    pid = None
    try:
        sock.setblocking(False)
        state = _processes.connect_unix(sock, address)
        if state != 'connected':
            return state, None
        credentials = _processes.peer_credentials(platform, sock)
        if credentials is not None:
            pid = credentials[0] or None
            if credentials[1] != uid and uid != 0:
                return 'other user', pid  # it drops us: only its user (or root) may ask
        if (pid in _silent_pids
                and _processes.process_state(platform, pid) in ('T', 't')):
            return 'silent', pid
        sock.settimeout(max(deadline - time.time(), 0.001))
        sock.sendall(('release %.3f\n' % deadline).encode('ascii'))
        answer = sock.recv(16)
        return ('released' if answer.startswith(b'ok') else 'dropped'), pid
    except _compat.TIMEOUT_ERRORS:
        return 'silent', pid
    except _compat.OS_ERRORS:
        return 'dropped', pid  # reset, or gone meanwhile
    finally:
        sock.close()


def _holder_pid(platform, address, seen):
    """The pid of the holder of *address*: *seen* (SO_PEERCRED) if it is one, else looked up.

    A holder started by an older version listens as the ``port`` command
    that started it, whose pid SO_PEERCRED then gives; a full queue gives none.
    """
    if seen is not None and _is_holder(platform, seen):
        return seen
    pids = [p for p in _processes.unix_socket_pids(platform, address) if _is_holder(platform, p)]
    return pids[0] if pids else seen


def _is_holder(platform, pid):
    argv = _processes.process_command_line(platform, pid) or []
    return __name__ in argv or any(__name__.replace('.', os.sep) in arg for arg in argv)


def holder_expiry(platform, pid):
    """When the holder *pid*'s leases end by themselves (its ``--until``), or None if unknown."""
    if pid is None:
        return None
    argv = _processes.process_command_line(platform, pid) or []
    for flag, value in zip(argv, argv[1:]):
        if flag == '--until':
            try:
                return float(value)
            except ValueError:
                return None
    return None


if __name__ == '__main__':
    sys.exit(main())
