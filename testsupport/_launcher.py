"""The launcher of :mod:`testsupport._supervisor`, in the test process: start() and its handles.

:func:`start` runs the supervisor program (``_supervisor.py`` as a script, or a
per-server supervisor forked by the process's shared one on Python 3) between
the test and its server, and returns a :class:`SupervisedProcess` once the
server has exec'd; see :mod:`testsupport._supervisor` for what the supervisor
guarantees per containment. Imported only when a child server starts.

About 680 lines, over the ~650-line guide: the per-server path (Python 2.7) and the
shared path (Python 3) return the same :class:`SupervisedProcess`, and splitting
them would put one class's protocol in two modules.
"""
from __future__ import absolute_import, division, print_function

import errno
import os
import select
import signal
import sys
import threading

from . import _supervisor

__all__ = [
    'SupervisedProcess',
    'SupervisorError',
    'start',
    'supervisor_command',
]


# -- The launcher (imported, in the test process) ------------------------------------

#: Seconds stop() waits for the supervisor beyond its timeout before killing it.
_STOP_MARGIN = 5.0


class SupervisorError(RuntimeError):
    """The supervisor itself failed: it could not start, or did not end in time.

    The message says what happened, with the supervisor's pid and exit status.
    """


def _script_path():
    """The supervisor program's compiled code if it is on disk, else its source.

    Running the interpreter's up-to-date .pyc of it (not on 2.7, whose .pyc may
    be half-written by another process) spares the supervisor compiling the
    file on every start: about a third of its start-up.
    """
    source = os.path.abspath(_supervisor.__file__)
    if source.endswith(('.pyc', '.pyo')):
        source = source[:-1]
    try:
        from importlib.util import cache_from_source
    except ImportError:
        # 2.7 writes its .pyc in place, not by rename: another process may be
        # half-way through writing it ("Bad code object in .pyc file").
        return source
    # The interpreter's own cache, not the module's __cached__: under pytest that
    # names pytest's assertion-rewritten copy (2.7's cannot run as a script).
    cached = cache_from_source(source)
    try:
        if os.path.getmtime(cached) >= os.path.getmtime(source):  # not a stale leftover
            return os.path.abspath(cached)
    except OSError:  # no .pyc (read-only install, PYTHONDONTWRITEBYTECODE) or no source
        pass
    return source


def _site_flag():
    """``'-S'`` (no site: a faster start), or ``'-s'`` in a Python 2.7 virtualenv.

    virtualenv < 20.22 (what tox uses for 2.7) makes environments whose
    standard library is found only by their site.py: under -S, nothing imports.
    """
    return '-s' if getattr(sys, 'real_prefix', None) else '-S'


def supervisor_command(argv, containment, life_fd, status_fd, listen_fd=None, remove=(),
                       parent_pid=None, unset=(), executable=None):
    """The supervisor's command line for the server *argv* (a list of str).

    ``[executable, '-E', '-S', '<...>/_supervisor.py', flags..., '--'] + argv`` (``-s`` for
    ``-S`` in a Python 2.7 virtualenv, see _site_flag()):
    ``-l``/``-s`` the life and status pipe ends, ``-f`` the listening socket
    (passed on as descriptor 3), ``-R`` be a child subreaper (containment
    ``'subreaper'``), ``-P PID`` take SIGTERM when the thread that started it
    ends (PR_SET_PDEATHSIG, Linux), ``-r PATH`` remove PATH when the test is
    gone, ``-u NAME`` remove NAME from the server's environment (Python's start-up
    may add LC_CTYPE). ValueError for an unknown *containment*.
    """
    if containment not in _supervisor.CONTAINMENTS:
        raise ValueError('supervisor_command(): containment must be one of %s, got %r'
                         % (', '.join(repr(c) for c in _supervisor.CONTAINMENTS), containment))
    command = [executable or sys.executable, '-E', _site_flag(), _script_path(),
               '-l', str(life_fd), '-s', str(status_fd)]
    if listen_fd is not None:
        command += ['-f', str(listen_fd)]
    if containment == 'subreaper':
        command.append('-R')
    if parent_pid is not None:
        command += ['-P', str(parent_pid)]
    for path in remove:
        command += ['-r', path]
    for name in unset:
        command += ['-u', name]
    return command + ['--'] + list(argv)


def _in_main_thread():
    import threading
    main_thread = getattr(threading, 'main_thread', None)
    if main_thread is not None:
        return threading.current_thread() is main_thread()
    return isinstance(threading.current_thread(), threading._MainThread)  # 2.7


class SupervisedProcess(object):
    """A server started by :func:`start`, with its supervisor; :meth:`stop` must be called.

    ``pid`` is the server's process id, ``supervisor`` its supervisor (its
    parent, and the subreaper of its tree): the ``subprocess.Popen`` of a
    per-server supervisor, or, when the shared supervisor started the server, a
    Popen-like object for the per-server child it forked (``pid``,
    ``returncode``, ``poll()``, ``wait()``, ``kill()``; its ``returncode`` is
    known once stop() has run: 0 when it ended in order). ``argv`` and
    ``containment`` are what started it.
    ``returncode`` is the server's exit status once it is known (negative: the
    signal), updated by :meth:`poll`, :meth:`wait` and :meth:`stop`; it stays
    None if the supervisor was killed before it could tell. :meth:`fileno` is
    readable when there is news (the server exited) that :meth:`poll` has not
    read yet: in a select() loop, call poll() first, then wait on the object.
    """

    def __init__(self, argv, containment, supervisor, life_fd, status_fd):
        self.argv = list(argv)
        self.containment = containment
        self.supervisor = supervisor
        self.pid = None
        self.returncode = None
        self._life_fd = life_fd
        self._status_fd = status_fd  # the same descriptor (a socket) under the shared one
        self._buffer = b''
        self._eof = False
        self._done = False
        self._stopped = False

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def __repr__(self):
        state = 'running' if self.returncode is None else 'exited %s' % self.returncode
        return '<SupervisedProcess pid=%s supervisor=%s %s %r>' % (
            self.pid, self.supervisor.pid, state, self.argv)

    def fileno(self):
        """The status pipe: readable when there is news poll() has not read (call it first)."""
        return self._status_fd

    def _read(self, timeout):
        """Read what the supervisor says within *timeout* seconds (None: until it says
        something); return the first complete line, or None on timeout or EOF."""
        deadline = None if timeout is None else _supervisor.monotonic() + timeout
        while True:
            if b'\n' in self._buffer:
                line, self._buffer = self._buffer.split(b'\n', 1)
                line = line.decode('ascii', 'replace')
                if line.startswith('exit '):
                    self.returncode = int(line.split()[1])
                elif line == 'done':
                    self._done = True
                return line
            if self._eof:
                return None
            remaining = None if deadline is None else max(deadline - _supervisor.monotonic(), 0.0)
            if not _wait_readable(self._status_fd, remaining):
                return None
            try:
                chunk = _supervisor.retry(os.read, self._status_fd, 4096)
            except OSError as exc:  # a socket whose peer left a request unread
                if exc.errno != errno.ECONNRESET:
                    raise
                chunk = b''
            if not chunk:
                self._eof = True
                if isinstance(self.supervisor, _Keeper):
                    self.supervisor._ended(self._done)
            self._buffer += chunk

    def poll(self):
        """The server's exit status if it has exited, else None; never blocks."""
        while self.returncode is None and not self._stopped and self._read(0) is not None:
            pass
        return self.returncode

    def wait(self, timeout=None):
        """Wait until the server exits (it is not asked to); its status, or None on timeout."""
        deadline = None if timeout is None else _supervisor.monotonic() + timeout
        while self.returncode is None and not self._stopped:
            remaining = None if deadline is None else max(deadline - _supervisor.monotonic(), 0.0)
            if self._read(remaining) is None:
                break
        return self.returncode

    def stop(self, timeout=5.0, remove=True):
        """End the server's whole tree and the supervisor; return the server's status.

        The supervisor sends SIGTERM to the tree, SIGKILL after *timeout* seconds,
        reaps everything, removes the paths given to :func:`start` (unless *remove*
        is False: the caller reads and removes them), and exits; stop() returns
        once it has. Calling it again just returns the status. SupervisorError if
        the supervisor has not ended *timeout* + 5 s later (it is then SIGKILLed).
        """
        if self._stopped:
            return self.returncode
        self._stopped = True
        request = 'stop %r %s\n' % (float(timeout), 'remove' if remove else 'keep')
        try:
            os.write(self._life_fd, request.encode('ascii'))
        except (OSError, IOError):  # the supervisor is gone already (EPIPE)
            pass
        finally:
            if self._life_fd == self._status_fd:
                _shutdown_write(self._life_fd)  # keep reading the replies
            else:
                os.close(self._life_fd)
        deadline = _supervisor.monotonic() + timeout + _STOP_MARGIN
        try:
            while not self._eof and _supervisor.monotonic() < deadline:
                self._read(deadline - _supervisor.monotonic())
        finally:
            os.close(self._status_fd)
        hung = not self._eof
        if hung:
            self.supervisor.kill()
        self.supervisor.wait()
        if hung:
            raise SupervisorError(
                'the supervisor (pid %s) of %r did not end within %.1f s of stop(); it was '
                'killed, and the server (pid %s) may be left running'
                % (self.supervisor.pid, self.argv, timeout + _STOP_MARGIN, self.pid))
        return self.returncode


def _wait_readable(fd, timeout):
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(_supervisor.retry(poller.poll, None if timeout is None else int(timeout * 1000) + 1))


def _shutdown_write(fd):
    """``shutdown(SHUT_WR)`` on the socket *fd* (left open); errors ignored."""
    import socket
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0, fd)
    try:
        sock.shutdown(socket.SHUT_WR)
    except socket.error:  # the peer is gone (ENOTCONN)
        pass
    finally:
        sock.detach()


# -- The launcher's side of the shared supervisor ------------------------------------

class _Keeper(object):
    """``SupervisedProcess.supervisor`` under the shared supervisor: its per-server child.

    Popen-like, but not this process's child (the shared supervisor's): ``pid``
    is known once the server started, ``returncode`` once the per-server
    channel is closed (0: it ended in order; 1: it died without saying so;
    -SIGKILL: :meth:`kill` killed it). :meth:`wait` does not block.
    """

    def __init__(self, zygote_pid):
        self.pid = None
        self.returncode = None
        self.zygote_pid = zygote_pid

    def _ended(self, in_order):
        if self.returncode is None:
            self.returncode = 0 if in_order else 1

    def poll(self):
        return self.returncode

    def wait(self, timeout=None):
        return self.returncode

    def kill(self):
        if self.pid is not None and self.returncode is None:
            try:
                os.kill(self.pid, signal.SIGKILL)  # a zombie until the shared one reaps it
            except OSError:
                pass
            self.returncode = -signal.SIGKILL


class _Unsupported(Exception):
    """This start() cannot go through the shared supervisor: use a per-server one."""


class _ZygoteHandle(object):
    """One shared supervisor: its Popen, our end of its socket, and what it was started with."""

    def __init__(self, popen, control, parent_death_signal):
        self.popen = popen
        self.control = control
        self.parent_death_signal = parent_death_signal


class _Shared(object):
    """This process's shared supervisors, one per (containment, interpreter), started on
    first use and kept until the process exits (or :meth:`close`).

    A child made by fork() has none: it starts its own (the pid is checked on
    each use, and reset after fork where Python can). Requests from several
    threads are serialised by a lock; each waits for its own server on its own
    channel, outside the lock.
    """

    def __init__(self, after_fork=False):
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._zygotes = {}
        self._atexit = False
        if after_fork:
            from . import _compat
            _compat.at_fork_in_child(self._after_fork)

    def _after_fork(self):
        """In a child after fork(): the parent's shared supervisors are not this one's."""
        if self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._lock = threading.Lock()  # the parent's may have been held by a thread
        for zygote in self._zygotes.values():
            zygote.control.close()  # this process's copy only
            zygote.popen.returncode = 0  # not this process's child: never wait for it
        self._zygotes = {}

    def send(self, containment, executable, parent_death_signal, main_thread, payload, fds):
        """Send a start request; the _ZygoteHandle that took it.

        _Unsupported when the shared supervisor for *containment* was started
        with another *parent_death_signal* than the one asked for (not None).
        """
        self._after_fork()
        key = (containment, executable)
        with self._lock:
            zygote = self._zygotes.get(key)
            if zygote is not None and zygote.popen.poll() is not None:
                self._discard(key)  # it died (killed by someone): start another
                zygote = None
            if zygote is None:
                wanted = (containment == 'subreaper' and main_thread
                          and parent_death_signal is not False)
                if parent_death_signal and not wanted:
                    raise _Unsupported()
                zygote = self._zygotes[key] = self._spawn(containment, executable, wanted)
            elif (parent_death_signal is not None
                  and bool(parent_death_signal) != zygote.parent_death_signal):
                raise _Unsupported()
            try:
                _send_request(zygote.control, payload, fds)
            except OSError as exc:  # it died between poll() and now (EPIPE, ECONNRESET)
                self._discard(key)
                raise SupervisorError(
                    'the shared supervisor (pid %d) is gone (%s); start() again starts '
                    'a new one' % (zygote.popen.pid, exc))
            return zygote

    def _spawn(self, containment, executable, parent_death_signal):
        import socket
        from . import _compat
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            command = [executable, '-E', _site_flag(), _script_path(), '-Z', '-c', str(theirs.fileno())]
            if containment == 'subreaper':
                command.append('-R')
            if parent_death_signal:
                command += ['-P', str(os.getpid())]
            with open(os.devnull, 'r+b') as null:
                popen = _compat.popen_new_session(command, [theirs.fileno()], new_session=True,
                                                  stdin=null, stdout=null, stderr=null)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        if not self._atexit:
            import atexit
            atexit.register(self.close)
            self._atexit = True
        return _ZygoteHandle(popen, ours, parent_death_signal)

    def _discard(self, key):
        zygote = self._zygotes.pop(key)
        zygote.control.close()
        _end_zygote(zygote.popen)

    def pids(self):
        """The pids of the running shared supervisors (for tests)."""
        self._after_fork()
        return sorted(z.popen.pid for z in self._zygotes.values() if z.popen.poll() is None)

    def fds(self):
        """This process's descriptors that are the shared supervisors' (for tests)."""
        self._after_fork()
        return sorted(z.control.fileno() for z in self._zygotes.values())

    def close(self):
        """End every shared supervisor: each ends the trees of servers still running
        (as if this process had died) and exits; return once they have."""
        self._after_fork()
        with self._lock:
            for key in list(self._zygotes):
                self._discard(key)


def _end_zygote(popen):
    """Wait for a shared supervisor whose socket is closed; SIGKILL it if it hangs."""
    import subprocess
    try:
        popen.wait(_supervisor.PARENT_GONE_GRACE + 3.0)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait()


def _send_request(sock, payload, fds):
    """``%08x`` (the length) and *payload* on *sock*, with the descriptors *fds*."""
    import array
    import socket
    data = ('%08x' % len(payload)).encode('ascii') + payload
    sent = sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', fds))])
    if sent < len(data):
        sock.sendall(data[sent:])


def _stream_fds(stdin, stdout, stderr):
    """The descriptors the server's 0, 1, 2 are copied from (None: the null device), as
    Popen would give them; _Unsupported for a pipe to be made (PIPE)."""
    import subprocess
    found = []
    for number, stream in enumerate((stdin, stdout, stderr)):
        if stream is None:  # inherited: this process's descriptor, if it is open
            try:
                os.fstat(number)
            except OSError:
                stream = subprocess.DEVNULL
            else:
                stream = number
        if stream == subprocess.STDOUT and number == 2:
            found.append(found[1])
            continue
        if stream == subprocess.DEVNULL:
            found.append(None)
        elif isinstance(stream, int) and stream >= 0:
            found.append(stream)
        elif hasattr(stream, 'fileno') and not isinstance(stream, int):
            found.append(stream.fileno())
        else:
            raise _Unsupported()
    return found


def _request(argv, env, cwd, remove, channel, exec_w, streams, listen_fd):
    """``(payload, fds)`` of a start request (see _Zygote); ValueError as Popen's."""
    fds, names = [channel, exec_w], 'ce'
    for name, fd in zip('012', streams):
        if fd is not None:
            fds.append(fd)
            names += name
    if listen_fd is not None:
        fds.append(listen_fd)
        names += 'l'
    try:
        here = os.getcwdb()
    except OSError:  # a removed directory: Popen can still start there, we cannot say it
        raise _Unsupported()
    where = here if cwd is None else os.path.join(here, os.fsencode(cwd))
    if env is None:
        entries = [key + b'=' + value for key, value in os.environb.items()]
    else:
        entries = []
        for key, value in env.items():
            key, value = os.fsencode(key), os.fsencode(value)
            if b'=' in key or not key:
                raise ValueError('start(): illegal environment variable name %r' % (key,))
            entries.append(key + b'=' + value)
    args = [os.fsencode(arg) for arg in argv]
    paths = [os.fsencode(path) for path in remove]
    fields = ([b'start', names.encode('ascii'), where, str(len(args)).encode('ascii')] + args
              + [str(len(entries)).encode('ascii')] + entries
              + [str(len(paths)).encode('ascii')] + paths)
    for field in fields:
        if b'\0' in field:
            raise ValueError('start(): embedded null byte in %r' % (field,))
    return b'\0'.join(fields), fds


def _start_shared(shared, argv, containment, listen_fd, stdin, stdout, stderr, env, cwd,
                  remove, timeout, parent_death_signal, executable):
    """start() through the shared supervisor; _Unsupported when it cannot be used."""
    import socket
    streams = _stream_fds(stdin, stdout, stderr)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    exec_r, exec_w = os.pipe()
    try:
        try:
            payload, fds = _request(argv, env, cwd, remove, theirs.fileno(), exec_w, streams,
                                    listen_fd)
            zygote = shared.send(containment, executable or sys.executable,
                                 parent_death_signal, _in_main_thread(), payload, fds)
        finally:
            theirs.close()  # the shared supervisor has its copies
            os.close(exec_w)
    except BaseException:
        ours.close()
        os.close(exec_r)
        raise
    keeper = _Keeper(zygote.popen.pid)
    channel = ours.detach()
    process = SupervisedProcess(argv, containment, keeper, channel, channel)
    deadline = _supervisor.monotonic() + timeout
    try:
        try:
            line = process._read(timeout)
            failure = None
            if line is not None and line.startswith('ok '):
                failure = _read_to_end(exec_r, deadline)
        finally:
            os.close(exec_r)
    except BaseException:
        process.stop(0)
        raise
    if failure == b'':  # end of file: the server's exec() succeeded
        words = line.split()
        process.pid, keeper.pid = int(words[1]), int(words[2])
        return process
    silent = (line is None and not process._eof) or (failure is None and line is not None)
    process.stop(0)
    if failure:
        line = 'exec ' + failure.decode('ascii', 'replace')
    _raise_start_error(line, argv, cwd)
    if silent:
        raise SupervisorError('the supervisor of %r (forked by the shared supervisor, pid '
                              '%d) did not start it within %.1f s; it was stopped'
                              % (list(argv), zygote.popen.pid, timeout))
    raise SupervisorError('the shared supervisor (pid %d, %s) ended the start of %r without '
                          'saying why' % (zygote.popen.pid, 'running' if zygote.popen.poll()
                                          is None else 'exited %s' % zygote.popen.returncode,
                                          list(argv)))


def _read_to_end(fd, deadline):
    """What *fd* gives until end of file; None if that takes past *deadline*."""
    data = b''
    while _wait_readable(fd, max(deadline - _supervisor.monotonic(), 0.0)):
        chunk = _supervisor.retry(os.read, fd, 512)
        if not chunk:
            return data
        data += chunk
    return None


def _raise_start_error(line, argv, cwd=None):
    """Raise what a supervisor's failure *line* says, if it says something."""
    if line is not None and line.startswith(('exec ', 'cwd ')):
        code = int(line.split()[1])
        name = argv[0] if line.startswith('exec ') else cwd
        if code:
            raise OSError(code, os.strerror(code), name)
        raise SupervisorError('cannot run %r: %s' % (name, line.split(' ', 2)[2]))
    if line is not None and line.startswith('fail '):
        raise SupervisorError('the supervisor for %r failed: %s' % (list(argv), line[5:]))


def start(argv, containment, listen_fd=None, stdin=None, stdout=None, stderr=None, env=None,
          cwd=None, remove=(), timeout=30.0, parent_death_signal=None, executable=None):
    """Start the server *argv* under a supervisor; return a :class:`SupervisedProcess`.

    Returns once the server's ``exec`` succeeded. *containment* says how its
    tree is kept together (see :data:`_supervisor.CONTAINMENTS`); the caller takes it from
    the platform description. *listen_fd*, if given, is passed to the server as
    descriptor 3 with ``LISTEN_FDS=1`` and ``LISTEN_PID`` its own pid (the
    caller closes its copy afterwards). *stdin*, *stdout*, *stderr*, *env* and
    *cwd* are the server's, as for ``subprocess.Popen``; the server leads a new
    session and process group. *remove* lists paths the supervisor deletes
    when the test is gone (and at ``stop()``). *parent_death_signal* None means
    "when *containment* is ``'subreaper'`` and this is the main thread"
    (PR_SET_PDEATHSIG fires when the starting *thread* ends).

    Where Python can pass descriptors (``socket.sendmsg``: 3.x), servers are
    started by one *shared* supervisor per process, started on first use (also
    in a child after fork()): it forks a per-server supervisor for each, which
    costs about a millisecond instead of an interpreter start-up. Its
    parent-death signal is chosen when it starts; a later explicit
    *parent_death_signal* that differs from it, or ``subprocess.PIPE`` streams,
    get a per-server supervisor, as on 2.7.

    Raises OSError (``errno``, ``strerror``, ``filename`` = ``argv[0]``, or
    *cwd* if that is what failed) at once if the program cannot be executed,
    after everything is cleaned up; SupervisorError if the supervisor fails or
    says nothing within *timeout* seconds; ValueError for an unknown
    *containment*; NotImplementedError for ``'job_object'``. The caller must
    call ``stop()``.
    """
    return _start(argv, containment, listen_fd, stdin, stdout, stderr, env, cwd, remove,
                  timeout, parent_death_signal, executable)


def _start(argv, containment, listen_fd=None, stdin=None, stdout=None, stderr=None, env=None,
           cwd=None, remove=(), timeout=30.0, parent_death_signal=None, executable=None,
           shared=None):
    """start(), with the shared supervisors to use: None the process's own, False none
    (a per-server supervisor), or a _Shared (tests)."""
    from . import _compat, _system
    if containment not in _supervisor.CONTAINMENTS:
        supervisor_command(argv, containment, 0, 0)  # raises the ValueError
    if containment == 'job_object':
        raise NotImplementedError(
            "start(containment='job_object'): the Windows supervisor (a job object with "
            "JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE) is not implemented; start the server "
            "with subprocess.Popen as before")
    if shared is None and _compat.HAS_SENDMSG:
        shared = _shared()
    if shared:
        try:
            return _start_shared(shared, argv, containment, listen_fd, stdin, stdout, stderr,
                                 env, cwd, remove, timeout, parent_death_signal, executable)
        except _Unsupported:
            pass
    if parent_death_signal is None:
        parent_death_signal = containment == 'subreaper' and _in_main_thread()
    life_r, life_w = os.pipe()
    for fd in (life_r, life_w):
        _system.set_non_inheritable(fd)  # 2.7: at once, before another thread forks
    try:
        status_r, status_w = os.pipe()
    except BaseException:
        os.close(life_r)
        os.close(life_w)
        raise
    for fd in (status_r, status_w):
        _system.set_non_inheritable(fd)
    effective_env = os.environ if env is None else env
    unset = [name for name in ('LC_CTYPE',) if name not in effective_env]
    keep = [life_r, status_w] + ([] if listen_fd is None else [listen_fd])
    command = supervisor_command(argv, containment, life_r, status_w, listen_fd, remove,
                                 os.getpid() if parent_death_signal else None, unset,
                                 executable)
    try:
        popen = _compat.popen_new_session(command, keep, new_session=True, stdin=stdin,
                                          stdout=stdout, stderr=stderr, env=env, cwd=cwd)
    except BaseException:
        for fd in (life_w, status_r):
            os.close(fd)
        raise
    finally:
        os.close(life_r)
        os.close(status_w)
    process = SupervisedProcess(argv, containment, popen, life_w, status_r)
    try:
        line = process._read(timeout)
    except BaseException:
        process.stop(0)
        raise
    if line is not None and line.startswith('ok '):
        process.pid = int(line.split()[1])
        return process
    process.stop(0)
    _raise_start_error(line, argv)
    if line is None and not process._eof:
        raise SupervisorError('the supervisor (pid %d) for %r said nothing within %.1f s; '
                              'it was stopped' % (popen.pid, list(argv), timeout))
    raise SupervisorError('the supervisor (pid %d) for %r exited with status %s before '
                          'starting it; its stderr went to the server\'s stderr'
                          % (popen.pid, list(argv), popen.returncode))


_SHARED = []  # type: list[object]


def _shared():
    """The process's _Shared, made on first use."""
    if not _SHARED:
        _SHARED.append(_Shared(after_fork=True))  # a race makes two: one is dropped unused
    return _SHARED[0]
