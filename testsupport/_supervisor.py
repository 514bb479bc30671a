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

.. versionadded:: 0.1.0

At about 700 lines this module is over the package's ~650-line guide on purpose: it
runs as a script that may import nothing from the package, so the program cannot
be spread over modules (its launcher is :mod:`testsupport._launcher`).
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
    'monotonic',
    'retry',
]

#: The ways a tree can be kept together, by platform (see the module docstring).
CONTAINMENTS = ('subreaper', 'process_group', 'job_object')
#: Seconds between SIGTERM and SIGKILL when the test is gone (everything ends within 1 s).
PARENT_GONE_GRACE = 0.5

# Linux prctl(2) options: used only when the launcher passes -R or -P (subreaper).
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
monotonic = getattr(time, 'monotonic', time.time)


# -- The supervisor program ------------------------------------------------------

def retry(func, *args):
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
        return retry(os.read, fd, 512)
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
            retry(os.write, self.opts['status'], (text + '\n').encode('ascii', 'replace'))
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
            chunk = retry(os.read, err_r, 512)
            if not chunk:
                break
            failure += chunk
        os.close(err_r)
        if failure:
            retry(os.waitpid, pid, 0)
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
            # Nothing but 0-2 (and 3) reaches the server: 2.7 keeps descriptors of
            # its own (the script file, /dev/urandom) that are not close-on-exec.
            for fd in _open_fds():
                if fd > 2 and fd != err_w and not (fd == 3 and listen is not None):
                    try:
                        _set_cloexec(fd)
                    except (OSError, IOError):  # 2.7's fcntl raises IOError
                        pass  # listdir's own descriptor, closed since
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
            for fd, _event in retry(poller.poll):
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
        deadline = monotonic() + grace
        hard = False
        poller = select.poll()
        poller.register(self.wake_r, select.POLLIN)
        while self.reap():
            hard = hard or monotonic() >= deadline
            self.signal_tree(signal.SIGKILL if hard else signal.SIGTERM)
            wait = 0.05 if hard else max(deadline - monotonic(), 0.0)
            retry(poller.poll, int(wait * 1000) + 1)
            self.drain()
        if not self.opts['subreaper']:
            self.end_group(deadline)

    def end_group(self, deadline):
        """Wait for the server's process group (not our children any more) to empty."""
        cap = max(deadline, monotonic()) + 1.0
        while not self.group_gone and monotonic() < cap:
            hard = monotonic() >= deadline
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
            for fd, event in retry(poller.poll):
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
        deadline = monotonic() + PARENT_GONE_GRACE + 1.0
        poller = select.poll()
        poller.register(self.wake_r, select.POLLIN)
        while self.reap():
            left = deadline - monotonic()
            if left <= 0:
                for pid in self.keepers:
                    try:
                        os.kill(pid, signal.SIGKILL)  # its server has PDEATHSIG=SIGKILL
                    except OSError:
                        pass
                left = 0.05
            retry(poller.poll, int(left * 1000) + 1)
            _drain(self.wake_r)

    def receive(self, size):
        """Exactly *size* bytes from the socket, and the descriptors that came with them;
        ``(b'', fds)`` at end of file."""
        import array
        import socket
        data, fds = b'', []
        while len(data) < size:
            chunk, ancillary, _flags, _addr = retry(
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


if __name__ == '__main__':
    os._exit(_main(sys.argv[1:]))  # nothing to flush: skip the interpreter's finalisation
