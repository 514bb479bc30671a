"""A supervisor between a test and its server process: the tree ends when the test does.

Imported, this module is the *launcher* (:func:`start`, :class:`SupervisedProcess`):
it runs this same file as a small program, ``python -E -S _supervisor.py FLAGS --
ARGV``, which forks and execs the server and stays its parent. The test holds the
write end of a pipe whose read end only the supervisor has (the "life pipe"); when
it reads a stop request or end-of-file (the test called ``stop()``, or died in any
way, SIGKILL included, since the kernel closes a dead process's descriptors), it
ends the server's whole process tree, SIGTERM then SIGKILL, reaps it, removes the
paths it was given (e.g. the server's log directory) and exits.

How far "the whole tree" reaches is the *containment*, which the caller chooses
from the platform description (this module never reads ``sys.platform``):

``'subreaper'`` (Linux)
    the supervisor is a child subreaper (``prctl(PR_SET_CHILD_SUBREAPER)``), so a
    server's descendant that daemonises (double fork and ``setsid()``) is
    re-parented to it: every descendant is ended, and the supervisor knows none
    is left when ``waitpid()`` finds no child. The server gets
    ``PR_SET_PDEATHSIG=SIGKILL`` (it dies if the supervisor is killed), and the
    supervisor ``PR_SET_PDEATHSIG=SIGTERM`` when started from the main thread (a
    second line, should the test's pipe end have been copied by a fork).
``'process_group'`` (macOS, the BSDs)
    the server leads a new session; the supervisor signals its process group.
    Not covered: a descendant that left the group (``setsid()`` or
    ``setpgid()``, as a daemonising server does) survives ``stop()`` and the
    test's death.
``'job_object'`` (Windows)
    not implemented here (NotImplementedError): see
    ``/work/notes/supervisor-integration.md`` for the design.

Run as a script, this file imports nothing from testsupport and only the standard
library (site may be off): everything above the launcher section below is the
program, and stays small because its start-up is paid on every server start.

.. versionadded:: 0.2.0
"""
from __future__ import absolute_import, division, print_function

import sys

if __name__ == '__main__':
    del sys.path[0]  # this package's directory: none of its modules may shadow the stdlib

import errno  # noqa: E402 (EINTR only: Python 2.7 does not retry interrupted calls)
import os  # noqa: E402
import select  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402

__all__ = [
    'CONTAINMENTS',
    'PARENT_GONE_GRACE',
    'SupervisedProcess',
    'SupervisorError',
    'start',
    'supervisor_command',
]

#: The ways a tree can be kept together, by platform (see the module docstring).
CONTAINMENTS = ('subreaper', 'process_group', 'job_object')
#: Seconds between SIGTERM and SIGKILL when the test is gone (everything ends within 1 s).
PARENT_GONE_GRACE = 0.5

# Linux prctl(2) options: used only when the launcher passes -R or -P (subreaper).
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_monotonic = getattr(time, 'monotonic', time.time)


# -- The supervisor program ------------------------------------------------------

def _retry(func, *args):
    """``func(*args)``, again when a signal interrupted it (2.7; 3.5+ retries itself)."""
    while True:
        try:
            return func(*args)
        except Exception as exc:  # select.error is no OSError on 2.7
            if getattr(exc, 'args', ())[:1] != (errno.EINTR,):
                raise


def _set_cloexec(fd, on=True):
    import fcntl
    flags = fcntl.fcntl(fd, fcntl.F_GETFD)
    fcntl.fcntl(fd, fcntl.F_SETFD, (flags | fcntl.FD_CLOEXEC) if on else
                (flags & ~fcntl.FD_CLOEXEC))


def _high_pipe(nonblocking=False):
    """A pipe whose ends are above 3 (the server's fd 3 is the socket) and close on exec."""
    import fcntl
    ends = []
    for fd in os.pipe():
        if fd <= 3:
            high = fcntl.fcntl(fd, fcntl.F_DUPFD, 4)
            os.close(fd)
            fd = high
        _set_cloexec(fd)
        if nonblocking:
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
        ends.append(fd)
    return ends


def _parse(args):
    """``(options, server argv)`` from ``FLAGS -- ARGV`` (see supervisor_command())."""
    opts = {'life': None, 'status': None, 'listen': None, 'subreaper': False,
            'parent': None, 'remove': [], 'unset': []}
    names = {'-l': 'life', '-s': 'status', '-f': 'listen', '-P': 'parent'}
    i = 0
    while args[i] != '--':
        flag = args[i]
        if flag == '-R':
            opts['subreaper'] = True
            i += 1
            continue
        value = args[i + 1]
        i += 2
        if flag in names:
            opts[names[flag]] = int(value)
        elif flag == '-r':
            opts['remove'].append(value)
        elif flag == '-u':
            opts['unset'].append(value)
        else:
            raise SystemExit('testsupport supervisor: unknown flag %r' % (flag,))
    return opts, args[i + 1:]


def _open_fds():
    for where in ('/proc/self/fd', '/dev/fd'):
        try:
            return [int(name) for name in os.listdir(where)]
        except OSError:
            continue
    return list(range(3, 256))


def _prepare_fds(keep):
    """Open 0-2 (on the null device) if closed; close every other descriptor but *keep*."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDWR)  # the lowest free number: *fd*
    for fd in _open_fds():
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    for fd in keep:
        _set_cloexec(fd)


def _remove_tree(path):
    """Remove *path* and what it holds, following no symbolic link; errors ignored."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            for name in os.listdir(path):
                _remove_tree(os.path.join(path, name))
            os.rmdir(path)
        else:
            os.unlink(path)
    except OSError:
        pass


def _exit_code(status):
    """Popen's returncode for a waitpid() *status*: the exit status, or -signal."""
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


class _Supervisor(object):
    """The program's state: the server's pid and status, and what was signalled."""

    def __init__(self, opts, argv):
        self.opts = opts
        self.argv = argv
        self.server = None
        self.server_reaped = False
        self.termed = set()
        self.group_termed = False
        self.group_gone = False
        self.parent_gone = False
        self.prctl = None
        self.me = os.getpid()

    def report(self, text):
        try:
            _retry(os.write, self.opts['status'], (text + '\n').encode('ascii', 'replace'))
        except OSError:  # the test is gone (EPIPE): nobody to tell
            pass

    def on_sigterm(self, signum, frame):
        self.parent_gone = True

    def run(self):
        self.wake_r, wake_w = _high_pipe(nonblocking=True)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        signal.signal(signal.SIGTERM, self.on_sigterm)
        signal.set_wakeup_fd(wake_w)
        if self.opts['subreaper'] or self.opts['parent']:
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            self.prctl = libc.prctl
        if self.opts['subreaper'] and self.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            import ctypes
            self.report('fail prctl(PR_SET_CHILD_SUBREAPER) failed: %s'
                        % os.strerror(ctypes.get_errno()))
            return 1
        if self.opts['parent']:
            self.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
            if os.getppid() != self.opts['parent']:  # it died before prctl() took effect
                self.parent_gone = True
        err_r, err_w = _high_pipe()
        pid = os.fork()
        if pid == 0:
            self.exec_server(err_w)
        os.close(err_w)
        if self.opts['listen'] is not None:
            os.close(self.opts['listen'])  # the server's now: if it dies, connects are refused
        failure = b''
        while True:
            chunk = _retry(os.read, err_r, 512)
            if not chunk:
                break
            failure += chunk
        os.close(err_r)
        if failure:
            _retry(os.waitpid, pid, 0)
            self.report('exec ' + failure.decode('ascii', 'replace'))
            return 0
        self.server = pid
        self.report('ok %d' % pid)
        return self.serve()

    def exec_server(self, err_w):
        """In the forked child: become the server (never returns)."""
        try:
            os.setsid()
            listen = self.opts['listen']
            if listen is not None:
                if listen == 3:
                    _set_cloexec(3, False)
                else:
                    os.dup2(listen, 3)  # inheritable, whatever *listen* was
                os.environ['LISTEN_FDS'] = '1'
                os.environ['LISTEN_PID'] = str(os.getpid())
            for name in self.opts['unset']:
                os.environ.pop(name, None)
            for name in ('SIGPIPE', 'SIGXFSZ', 'SIGXFZ', 'SIGCHLD', 'SIGTERM'):
                if hasattr(signal, name):  # Python ignores SIGPIPE and SIGXFSZ: not the server
                    signal.signal(getattr(signal, name), signal.SIG_DFL)
            if self.opts['subreaper']:
                self.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
                if os.getppid() != self.me:
                    os._exit(127)
            os.execvp(self.argv[0], self.argv)
        except BaseException as exc:
            code = getattr(exc, 'errno', None) or 0
            try:
                os.write(err_w, ('%d %s' % (code, exc)).encode('ascii', 'replace')[:500])
            finally:
                os._exit(127)

    def reap(self):
        """Reap every exited child; False once there is no child at all."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except OSError:  # ECHILD (nothing else is possible with WNOHANG)
                return False
            if pid == 0:
                return True
            self.termed.discard(pid)
            if pid == self.server:
                self.server_reaped = True
                self.report('exit %d' % _exit_code(status))

    def drain(self):
        try:
            while os.read(self.wake_r, 512):
                pass
        except OSError:  # EAGAIN: drained
            pass

    def serve(self):
        """Wait for a stop request, the test's death, and the server's exit; then end it all."""
        life = self.opts['life']
        poller = select.poll()
        poller.register(life, select.POLLIN)
        poller.register(self.wake_r, select.POLLIN)
        request = b''
        grace, remove = None, True
        while grace is None:
            self.reap()
            if self.parent_gone:
                grace = PARENT_GONE_GRACE
                break
            for fd, _event in _retry(poller.poll):
                if fd == self.wake_r:
                    self.drain()
                    continue
                chunk = _retry(os.read, life, 512)
                request += chunk
                if b'\n' in request:  # b'stop <timeout> remove|keep\n' from stop()
                    words = request.split(b'\n')[0].split()
                    grace, remove = float(words[1]), words[2] == b'remove'
                elif not chunk:  # the test is gone
                    grace = PARENT_GONE_GRACE
        self.end_tree(grace)
        if remove:
            for path in self.opts['remove']:
                _remove_tree(path)
        return 0

    def children(self):
        """This process's children (their pids cannot be reused until it reaps them)."""
        if not self.opts['subreaper']:
            return [] if self.server_reaped else [self.server]
        try:
            with open('/proc/%d/task/%d/children' % (self.me, self.me), 'rb') as fp:
                return [int(pid) for pid in fp.read().split()]
        except (IOError, OSError):  # a kernel without CONFIG_PROC_CHILDREN
            found = []
            for name in os.listdir('/proc'):
                try:
                    with open('/proc/%s/stat' % name, 'rb') as fp:
                        fields = fp.read().rsplit(b')', 1)[1].split()
                except (IOError, OSError, IndexError):
                    continue
                if int(fields[1]) == self.me:
                    found.append(int(name))
            return found

    def signal_tree(self, signum):
        """*signum* to the server's group and every child (SIGTERM: once per process)."""
        if not self.group_gone and (signum != signal.SIGTERM or not self.group_termed):
            self.group_termed = True
            try:
                os.killpg(self.server, signum)
            except OSError:  # ESRCH: the group is empty (EPERM: macOS, only zombies)
                self.group_gone = True
        for pid in self.children():
            if signum == signal.SIGTERM and pid in self.termed:
                continue
            self.termed.add(pid)
            try:
                os.kill(pid, signum)
            except OSError:
                pass

    def end_tree(self, grace):
        """SIGTERM the tree, SIGKILL what is left after *grace* seconds; reap everything."""
        deadline = _monotonic() + grace
        hard = False
        poller = select.poll()
        poller.register(self.wake_r, select.POLLIN)
        while self.reap():
            hard = hard or _monotonic() >= deadline
            self.signal_tree(signal.SIGKILL if hard else signal.SIGTERM)
            wait = 0.05 if hard else max(deadline - _monotonic(), 0.0)
            _retry(poller.poll, int(wait * 1000) + 1)
            self.drain()
        if not self.opts['subreaper']:
            self.end_group(deadline)

    def end_group(self, deadline):
        """Wait for the server's process group (not our children any more) to empty."""
        cap = max(deadline, _monotonic()) + 1.0
        while not self.group_gone and _monotonic() < cap:
            hard = _monotonic() >= deadline
            try:
                os.killpg(self.server, signal.SIGKILL if hard else 0)
            except OSError:
                self.group_gone = True
                break
            time.sleep(0.005)


def _main(args):
    opts, argv = _parse(args)
    keep = [fd for fd in (opts['life'], opts['status'], opts['listen']) if fd is not None]
    _prepare_fds(keep)
    return _Supervisor(opts, argv).run()


# -- The launcher (imported, in the test process) ------------------------------------

#: Seconds stop() waits for the supervisor beyond its timeout before killing it.
_STOP_MARGIN = 5.0


class SupervisorError(RuntimeError):
    """The supervisor itself failed: it could not start, or did not end in time.

    The message says what happened, with the supervisor's pid and exit status.
    """


def _script_path():
    """This module's compiled code if it is on disk, else its source.

    Running the .pyc that importing this module validated (``__cached__``, or
    2.7's ``.pyc`` beside the source) spares the supervisor compiling this file
    on every start: about a third of its start-up.
    """
    source = os.path.abspath(__file__)
    if source.endswith(('.pyc', '.pyo')):
        source = source[:-1]
    cached = globals().get('__cached__') or source + 'c'
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
    if containment not in CONTAINMENTS:
        raise ValueError('supervisor_command(): containment must be one of %s, got %r'
                         % (', '.join(repr(c) for c in CONTAINMENTS), containment))
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

    ``pid`` is the server's process id, ``supervisor`` the ``subprocess.Popen``
    of the supervisor (its parent), ``argv`` and ``containment`` what started it.
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
        self._status_fd = status_fd
        self._buffer = b''
        self._eof = False
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
        deadline = None if timeout is None else _monotonic() + timeout
        while True:
            if b'\n' in self._buffer:
                line, self._buffer = self._buffer.split(b'\n', 1)
                line = line.decode('ascii', 'replace')
                if line.startswith('exit '):
                    self.returncode = int(line.split()[1])
                return line
            if self._eof:
                return None
            remaining = None if deadline is None else max(deadline - _monotonic(), 0.0)
            if not _wait_readable(self._status_fd, remaining):
                return None
            chunk = _retry(os.read, self._status_fd, 4096)
            if not chunk:
                self._eof = True
            self._buffer += chunk

    def poll(self):
        """The server's exit status if it has exited, else None; never blocks."""
        while self.returncode is None and not self._stopped and self._read(0) is not None:
            pass
        return self.returncode

    def wait(self, timeout=None):
        """Wait until the server exits (it is not asked to); its status, or None on timeout."""
        deadline = None if timeout is None else _monotonic() + timeout
        while self.returncode is None and not self._stopped:
            remaining = None if deadline is None else max(deadline - _monotonic(), 0.0)
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
            os.close(self._life_fd)
        deadline = _monotonic() + timeout + _STOP_MARGIN
        try:
            while not self._eof and _monotonic() < deadline:
                self._read(deadline - _monotonic())
        finally:
            os.close(self._status_fd)
        hung = not self._eof
        if hung:
            self.supervisor.kill()
        self.supervisor.wait()
        if hung:
            raise SupervisorError(
                'the supervisor (pid %d) of %r did not end within %.1f s of stop(); it was '
                'killed, and the server (pid %s) may be left running'
                % (self.supervisor.pid, self.argv, timeout + _STOP_MARGIN, self.pid))
        return self.returncode


def _wait_readable(fd, timeout):
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(_retry(poller.poll, None if timeout is None else int(timeout * 1000) + 1))


def start(argv, containment, listen_fd=None, stdin=None, stdout=None, stderr=None, env=None,
          cwd=None, remove=(), timeout=30.0, parent_death_signal=None, executable=None):
    """Start the server *argv* under a supervisor; return a :class:`SupervisedProcess`.

    Returns once the server's ``exec`` succeeded. *containment* says how its
    tree is kept together (see :data:`CONTAINMENTS`); the caller takes it from
    the platform description. *listen_fd*, if given, is passed to the server as
    descriptor 3 with ``LISTEN_FDS=1`` and ``LISTEN_PID`` its own pid (the
    caller closes its copy afterwards). *stdin*, *stdout*, *stderr*, *env* and
    *cwd* are the server's, as for ``subprocess.Popen``; the server leads a new
    session and process group. *remove* lists paths the supervisor deletes
    when the test is gone (and at ``stop()``). *parent_death_signal* None means
    "when *containment* is ``'subreaper'`` and this is the main thread"
    (PR_SET_PDEATHSIG fires when the starting *thread* ends).

    Raises OSError (``errno``, ``strerror``, ``filename`` = ``argv[0]``) at once
    if the program cannot be executed, after everything is cleaned up;
    SupervisorError if the supervisor fails or says nothing within *timeout*
    seconds; ValueError for an unknown *containment*; NotImplementedError for
    ``'job_object'``. The caller must call ``stop()``.
    """
    from . import _compat, _system
    if containment not in CONTAINMENTS:
        supervisor_command(argv, containment, 0, 0)  # raises the ValueError
    if containment == 'job_object':
        raise NotImplementedError(
            "start(containment='job_object'): the Windows supervisor (a job object with "
            "JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE) is not implemented; start the server "
            "with subprocess.Popen as before")
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
    if line is not None and line.startswith('exec '):
        code = int(line.split()[1])
        if code:
            raise OSError(code, os.strerror(code), argv[0])
        raise SupervisorError('cannot run %r: %s' % (argv[0], line.split(' ', 2)[2]))
    if line is not None and line.startswith('fail '):
        raise SupervisorError('the supervisor for %r failed: %s' % (list(argv), line[5:]))
    if line is None and not process._eof:
        raise SupervisorError('the supervisor (pid %d) for %r said nothing within %.1f s; '
                              'it was stopped' % (popen.pid, list(argv), timeout))
    raise SupervisorError('the supervisor (pid %d) for %r exited with status %s before '
                          'starting it; its stderr went to the server\'s stderr'
                          % (popen.pid, list(argv), popen.returncode))


if __name__ == '__main__':
    os._exit(_main(sys.argv[1:]))  # nothing to flush: skip the interpreter's finalisation
