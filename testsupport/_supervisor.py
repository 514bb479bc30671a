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

On Python 3 (``socket.sendmsg``), :func:`start` does not run this program per
server: one *shared* supervisor per test process (``-Z``, started on first use,
again in a child after fork) forks a per-server supervisor for each server,
which is the program above minus an interpreter start-up (about 1-5 ms instead
of 15-60 ms); the request carries the descriptors (streams, listening socket)
over an AF_UNIX socket. Python 2.7, ``subprocess.PIPE`` streams and a
*parent_death_signal* the shared one cannot give use the per-server program.

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


def _read_or_reset(fd):
    """``os.read(fd, 512)``; end of file (b'') also when a socket's peer is gone with
    data unread (ECONNRESET: the test died before reading what it was told)."""
    try:
        return _retry(os.read, fd, 512)
    except OSError as exc:
        if exc.errno != errno.ECONNRESET:
            raise
        return b''


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
        failure = self.prepare()
        if failure:
            self.report('fail ' + failure)
            return 1
        return self.launch()

    def prepare(self, idle=False):
        """Signals, subreaper, parent-death signal; the failure's text, or None.

        *idle* (a shared supervisor's spare, before its request): SIGTERM stays
        fatal until launch().
        """
        self.wake_r, wake_w = _high_pipe(nonblocking=True)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        if not idle:
            signal.signal(signal.SIGTERM, self.on_sigterm)
        signal.set_wakeup_fd(wake_w)
        if self.opts['subreaper'] or self.opts['parent']:
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            self.prctl = libc.prctl
        if self.opts['subreaper'] and self.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            import ctypes
            return ('prctl(PR_SET_CHILD_SUBREAPER) failed: %s'
                    % os.strerror(ctypes.get_errno()))
        if self.opts['parent']:
            self.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
            if os.getppid() != self.opts['parent']:  # it died before prctl() took effect
                self.parent_gone = True
        return None

    def launch(self):
        """Fork and exec the server, report, and supervise it; the exit status."""
        signal.signal(signal.SIGTERM, self.on_sigterm)
        err_r, err_w = None, self.opts.get('exec')
        if err_w is None:
            err_r, err_w = _high_pipe()
        pid = os.fork()
        if pid == 0:
            self.exec_server(err_w)
        if self.opts['listen'] is not None:
            os.close(self.opts['listen'])  # the server's now: if it dies, connects are refused
        if err_r is None:  # the test reads the exec error pipe itself (shared supervisor)
            self.server = pid
            self.report('ok %d %d' % (pid, self.me))
            os.close(err_w)
            return self.serve_or_end()
        os.close(err_w)
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
            self.report('done')
            return 0
        self.server = pid
        self.report('ok %d %d' % (pid, self.me))
        return self.serve_or_end()

    def serve_or_end(self):
        """serve(); should it fail, the tree is still ended before the error goes on."""
        try:
            return self.serve()
        except BaseException:
            self.end_tree(PARENT_GONE_GRACE)
            raise

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
                chunk = _read_or_reset(life)
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
        self.report('done')
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


# -- The shared supervisor ("zygote"): one per test process, Python 3 only --------
#
# ``python -E -S _supervisor.py -Z -c FD [-R] [-P PID]``: FD is one end of an
# AF_UNIX stream socket whose other end only the test process holds (its hang-up
# means the test is gone). Each request on it is ``%08x`` (the length) and a
# payload of NUL-separated fields, sent with the descriptors it names (SCM_RIGHTS):
#
#     start \0 FDS \0 CWD \0 N \0 argv... \0 M \0 env... \0 K \0 remove...
#
# FDS says which descriptors came with it, in order: ``c`` the server's own
# channel (an AF_UNIX socket: the per-server "life" and "status" pipes in one),
# ``e`` the write end of the test's exec error pipe (closed on exec; the test
# reads the error, or end of file, itself), ``0``/``1``/``2`` the standard
# streams (a missing one is the null device), ``l`` the listening socket.
#
# The zygote keeps one *spare keeper* forked in advance, which is the only
# reader of the socket: it takes one request, tells the zygote (which forks the
# next spare while the keeper works), and becomes that
# server's keeper: it stays Python (no exec) and is exactly the per-server
# supervisor above, child subreaper (-R) of that server's tree only, parent-death
# signal SIGTERM tied to the zygote, reports and stop requests on the channel.
# The zygote itself reads nothing: it learns the test is gone from the socket's
# hang-up, and holds nothing but its socket and two pipes (signals, "taken").

_REQUEST_FDS = 8  # channel, exec pipe, 0, 1, 2, listener: room to spare
_SPARE_DEATHS = 5  # spares dying untaken in a row before the zygote stops making them


class _Zygote(object):
    """The shared supervisor's state: its socket, the keepers it forked, the spare."""

    def __init__(self, control, subreaper, parent):
        self.control_fd = control
        self.subreaper = subreaper
        self.parent = parent
        self.keepers = set()
        self.spare = None
        self.spare_deaths = 0
        self.parent_gone = False
        self.prctl = None
        self.me = os.getpid()

    def on_sigterm(self, signum, frame):
        self.parent_gone = True

    def run(self):
        import socket
        import warnings  # noqa: F401 (os.execvp() imports it: once here, not in every server)
        self.wake_r, self.wake_w = _high_pipe(nonblocking=True)
        self.taken_r, self.taken_w = _high_pipe(nonblocking=True)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        signal.signal(signal.SIGTERM, self.on_sigterm)
        signal.set_wakeup_fd(self.wake_w)
        if self.subreaper or self.parent:
            import ctypes  # once here: every keeper has it in memory
            self.prctl = ctypes.CDLL(None, use_errno=True).prctl
        if self.parent:
            self.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
            if os.getppid() != self.parent:
                self.parent_gone = True
        _set_cloexec(self.control_fd)
        self.control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0, self.control_fd)
        poller = select.poll()
        poller.register(self.control_fd, 0)  # hang-up only: the spare reads requests
        poller.register(self.wake_r, select.POLLIN)
        poller.register(self.taken_r, select.POLLIN)
        self.fork_spare()
        while not self.parent_gone:
            for fd, event in _retry(poller.poll):
                if fd == self.control_fd:
                    self.parent_gone = True  # the test is gone (its end is closed)
                elif fd == self.taken_r:
                    _drain(self.taken_r)
                    self.spare = None
                    self.spare_deaths = 0
                elif fd == self.wake_r:
                    _drain(self.wake_r)
                    self.reap()
            if self.spare is None and not self.parent_gone:
                self.fork_spare()
        self.end_all()
        return 0

    def fork_spare(self):
        if self.spare_deaths >= _SPARE_DEATHS:
            return
        try:
            pid = os.fork()
        except OSError:  # EAGAIN, ENOMEM: the next SIGCHLD or request tries again
            return
        if pid == 0:
            code = 1
            try:
                code = self.spare_main()
            finally:
                os._exit(code)
        self.keepers.add(pid)
        self.spare = pid

    def reap(self):
        """Reap exited keepers; False once none is left."""
        while self.keepers:
            try:
                pid, _status = os.waitpid(-1, os.WNOHANG)
            except OSError:  # ECHILD
                self.keepers.clear()
                break
            if pid == 0:
                break
            self.keepers.discard(pid)
            if pid == self.spare:  # died untaken
                self.spare = None
                self.spare_deaths += 1
        return bool(self.keepers)

    def end_all(self):
        """The test is gone: each keeper ends its tree (grace PARENT_GONE_GRACE); then exit."""
        for pid in self.keepers:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        deadline = _monotonic() + PARENT_GONE_GRACE + 1.0
        poller = select.poll()
        poller.register(self.wake_r, select.POLLIN)
        while self.reap():
            left = deadline - _monotonic()
            if left <= 0:
                for pid in self.keepers:
                    try:
                        os.kill(pid, signal.SIGKILL)  # its server has PDEATHSIG=SIGKILL
                    except OSError:
                        pass
                left = 0.05
            _retry(poller.poll, int(left * 1000) + 1)
            _drain(self.wake_r)

    def receive(self, size):
        """Exactly *size* bytes from the socket, and the descriptors that came with them;
        ``(b'', fds)`` at end of file."""
        import array
        import socket
        data, fds = b'', []
        while len(data) < size:
            chunk, ancillary, _flags, _addr = _retry(
                self.control.recvmsg, size - len(data), socket.CMSG_SPACE(_REQUEST_FDS * 4))
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    got = array.array('i')
                    got.frombytes(payload[:len(payload) - len(payload) % got.itemsize])
                    fds.extend(got)
            if not chunk:
                return b'', fds
            data += chunk
        return data, fds

    def spare_main(self):
        """In a spare keeper: wait for one request, say it is taken, serve it."""
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the test is gone: nothing to end yet
        for fd in (self.wake_r, self.wake_w, self.taken_r):
            os.close(fd)
        # the keeper's set-up, done before the request comes (off the start's path)
        opts = {'life': None, 'status': None, 'listen': None, 'subreaper': self.subreaper,
                'parent': self.me if self.prctl else None, 'remove': [], 'unset': []}
        supervisor = _Supervisor(opts, None)
        failure = supervisor.prepare(idle=True)
        if supervisor.parent_gone:
            return 0
        header, fds = self.receive(8)
        payload = b''
        if header:
            payload, more = self.receive(int(header, 16))
            fds.extend(more)
        os.write(self.taken_w, b'x')  # the zygote forks the next spare
        os.close(self.taken_w)
        self.control.close()
        if not payload:  # end of file: the test is gone
            return 0
        fields = payload.split(b'\0')
        names = fields[1].decode('ascii')
        fdmap = dict(zip(names, fds))
        channel = fdmap.get('c')
        if len(fds) != len(names) or channel is None or 'e' not in fdmap:
            if channel is not None:
                _tell(channel, 'fail expected descriptors %r, got %d' % (names, len(fds)))
            return 1
        try:
            if failure:
                _tell(channel, 'fail ' + failure)
                return 1
            return self.keeper(supervisor, fdmap, fields)
        except BaseException as exc:
            _tell(channel, 'fail %s: %s' % (type(exc).__name__, exc))
            return 1

    def keeper(self, supervisor, fdmap, fields):
        """In the keeper: set up the server's streams, environment and directory, then
        supervise it as the per-server program does; the exit status."""
        for target, name in enumerate('012'):
            source = fdmap.get(name)
            if source is None:
                source = os.open(os.devnull, os.O_RDWR)
            os.dup2(source, target)  # inheritable
            os.close(source)
        channel, listen, exec_w = fdmap['c'], fdmap.get('l'), fdmap['e']
        for fd in (channel, listen, exec_w):
            if fd is not None:
                _set_cloexec(fd)
        cwd = fields[2]
        count = int(fields[3])
        argv = [os.fsdecode(arg) for arg in fields[4:4 + count]]
        at = 4 + count
        count = int(fields[at])
        env = [entry.split(b'=', 1) for entry in fields[at + 1:at + 1 + count]]
        at += 1 + count
        remove = [os.fsdecode(path) for path in fields[at + 1:at + 1 + int(fields[at])]]
        if cwd:
            try:
                os.chdir(cwd)
            except OSError as exc:
                _tell(channel, 'cwd %d %s' % (exc.errno or 0, exc))
                return 0
        os.environ.clear()  # unsetenv() each: LC_CTYPE added by this Python's start-up too
        os.environb.update(env)
        supervisor.opts.update({'life': channel, 'status': channel, 'listen': listen,
                                'remove': remove, 'exec': exec_w})
        supervisor.argv = argv
        return supervisor.launch()


def _drain(fd):
    try:
        while os.read(fd, 512):
            pass
    except OSError:  # EAGAIN: drained
        pass


def _tell(fd, text):
    try:
        os.write(fd, (text + '\n').encode('ascii', 'replace'))
    except OSError:
        pass


def _zygote_main(args):
    control, subreaper, parent = None, False, None
    i = 0
    while i < len(args):
        if args[i] == '-R':
            subreaper = True
            i += 1
            continue
        if args[i] == '-c':
            control = int(args[i + 1])
        elif args[i] == '-P':
            parent = int(args[i + 1])
        else:
            raise SystemExit('testsupport supervisor: unknown flag %r' % (args[i],))
        i += 2
    _prepare_fds([control])
    return _Zygote(control, subreaper, parent).run()


def _main(args):
    if args[:1] == ['-Z']:
        return _zygote_main(args[1:])
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
        deadline = None if timeout is None else _monotonic() + timeout
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
            remaining = None if deadline is None else max(deadline - _monotonic(), 0.0)
            if not _wait_readable(self._status_fd, remaining):
                return None
            try:
                chunk = _retry(os.read, self._status_fd, 4096)
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
            if self._life_fd == self._status_fd:
                _shutdown_write(self._life_fd)  # keep reading the replies
            else:
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
                'the supervisor (pid %s) of %r did not end within %.1f s of stop(); it was '
                'killed, and the server (pid %s) may be left running'
                % (self.supervisor.pid, self.argv, timeout + _STOP_MARGIN, self.pid))
        return self.returncode


def _wait_readable(fd, timeout):
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(_retry(poller.poll, None if timeout is None else int(timeout * 1000) + 1))


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
        import threading
        self._threading = threading
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
        self._lock = self._threading.Lock()  # the parent's may have been held by a thread
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
            command = [executable, '-E', '-S', _script_path(), '-Z', '-c', str(theirs.fileno())]
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
        popen.wait(PARENT_GONE_GRACE + 3.0)
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
    deadline = _monotonic() + timeout
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
    while _wait_readable(fd, max(deadline - _monotonic(), 0.0)):
        chunk = _retry(os.read, fd, 512)
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
    tree is kept together (see :data:`CONTAINMENTS`); the caller takes it from
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
    if containment not in CONTAINMENTS:
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


_SHARED = []


def _shared():
    """The process's _Shared, made on first use."""
    if not _SHARED:
        _SHARED.append(_Shared(after_fork=True))  # a race makes two: one is dropped unused
    return _SHARED[0]


if __name__ == '__main__':
    os._exit(_main(sys.argv[1:]))  # nothing to flush: skip the interpreter's finalisation
