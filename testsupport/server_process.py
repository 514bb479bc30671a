"""Servers in child processes: start_server_process() and the ServerProcess it returns.

The child gets its port by inheriting a listening socket (systemd's
LISTEN_FDS), by binding port 0 itself and being asked which port it took, or
by being told a leased port; :class:`ServerProcess` captures the end of its
output and ends its whole process tree. On POSIX systems the child runs under
``_supervisor`` (started by ``_launcher``; a small process between this one and the server, chosen by
the platform's ``process_containment``), which ends the tree when this process
ends in any way; Windows starts the child directly until job objects exist.

.. versionadded:: 0.1.0
"""
from __future__ import absolute_import, division, print_function

import os
import socket
import time
import unittest

from . import (
    _compat,
    _port_tables,
    _processes,
    _sockets,
    _system,
    _waits,
    allocator,
    platform_shim,
    servers,
    socket_helper,
    support,
)

__all__ = [
    'ServerProcess',
    'ServerStartError',
    'start_server_process',
]

_SERVER_MODES = ('inherit', 'discover', 'lease')
#: How long ServerProcess.stop() waits after SIGTERM before SIGKILL (seconds).
_STOP_TIMEOUT = 5.0
#: How many lines of the child's stderr a ServerStartError quotes.
_STDERR_TAIL_LINES = 15
#: Longest line of stderr a ServerStartError quotes whole (characters).
_STDERR_LINE_CHARS = 300
#: How much of the end of each captured stream ``stdout``/``stderr`` keep (bytes).
_TAIL_BYTES = 64 * 1024
#: Seconds between readiness checks (a connect, or a look at the LISTEN table):
#: readiness is seen within about this long, an early exit at once.
_READY_STEP = 0.001
#: Longest wait in stop() for the port to refuse connections once the tree is gone.
_REFUSE_WAIT = 1.0


class ServerStartError(RuntimeError):
    """A server process could not be run, exited, or did not listen, before it was ready.

    The message says which, with the OS error, the exit status or the timeout,
    the command, and the last lines of the child's stderr.
    """


def _read_tail(fd, limit):
    """The last *limit* bytes of the open file *fd* as text, marked when the start was cut.

    Reads at most *limit* bytes (a seek to the end first), so memory does not
    grow with the file; ``''`` if it cannot be read. Moves *fd*'s offset: the
    writer must append (O_APPEND) or have a description of its own.
    """
    try:
        size = os.lseek(fd, 0, os.SEEK_END)
        start = max(size - limit, 0)
        os.lseek(fd, start, os.SEEK_SET)
        chunks, wanted = [], limit
        while wanted > 0:
            chunk = os.read(fd, min(wanted, 65536))
            if not chunk:
                break
            chunks.append(chunk)
            wanted -= len(chunk)
    except _compat.OS_ERRORS:
        return ''
    text = b''.join(chunks).decode('utf-8', 'replace')
    if start:
        text = '[... %d bytes cut ...]\n%s' % (start, text)
    return text


def _open_logs(named_in):
    """``{'stdout': file, 'stderr': file}``: where the child writes and we read its tails.

    *named_in* None (POSIX): unnamed temporary files (O_TMPFILE on Linux, else
    unlinked at once), opened to append, so that reading our shared descriptor
    never moves the child's writes, and nothing is left on disk whatever ends
    this process. Else files in the directory *named_in*, read through
    descriptors of their own (Windows: no O_APPEND on an inherited handle).
    """
    import tempfile
    logs = {}
    try:
        for name in ('stdout', 'stderr'):
            if named_in is None:
                import fcntl
                fp = tempfile.TemporaryFile(prefix='testsupport-server-')
                flags = fcntl.fcntl(fp.fileno(), fcntl.F_GETFL)
                fcntl.fcntl(fp.fileno(), fcntl.F_SETFL, flags | os.O_APPEND)
            else:
                path = os.path.join(named_in, name + '.log')
                open(path, 'ab').close()
                fp = open(path, 'rb')
            logs[name] = fp
    except BaseException:
        for fp in logs.values():
            fp.close()
        raise
    return logs


class ServerProcess(object):
    """A server running in a child process: made by :func:`start_server_process`.

    ``host`` and ``port`` are where to connect (``host, port = server`` unpacks
    them), ``process`` the handle of the child (its ``pid``, ``poll()``,
    ``wait()``), ``mode`` and ``argv`` what started it. ``stdout`` and
    ``stderr`` are the end of what the child has written so far (captured in
    files, so a chatty child never blocks on a full pipe): at most the last
    64 KiB, with a first line ``[... N bytes cut ...]`` when more was written.
    :meth:`stop` must be called (or use it as a context manager).

    .. versionadded:: 0.1.0
    """

    def __init__(self, argv, mode, host, port, stop_timeout, platform):
        self.argv = list(argv)
        self.mode = mode
        self.host = host
        self.port = port
        self.process = None
        self.stop_timeout = stop_timeout
        self._platform = platform
        self._listener = None
        self._leased = None
        self._tree_root = None
        self._log_dir = None
        if not self._supervised():
            import tempfile
            self._log_dir = tempfile.mkdtemp(prefix='testsupport-server-')
        self._logs = _open_logs(self._log_dir)
        self._captured = None
        self._stopped = False

    @property
    def address(self):
        """``(host, port)``."""
        return (self.host, self.port)

    @property
    def pid(self):
        """The child's process id (None if it never started)."""
        return None if self.process is None else self.process.pid

    @property
    def returncode(self):
        """The child's exit status once it has exited (negative: killed by that signal)."""
        return None if self.process is None else self.process.poll()

    @property
    def stdout(self):
        """The end of what the child wrote to stdout (at most 64 KiB), as text."""
        return self._read_log('stdout')

    @property
    def stderr(self):
        """The end of what the child wrote to stderr (at most 64 KiB), as text."""
        return self._read_log('stderr')

    def __iter__(self):
        return iter(self.address)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def __repr__(self):
        state = 'running' if self.returncode is None else 'exited %s' % self.returncode
        return '<ServerProcess %s pid=%s %s %s>' % (
            self.mode, self.pid, _sockets.format_address(self.host, self.port), state)

    def _read_log(self, name):
        if self._captured is not None:
            return self._captured[name]
        return _read_tail(self._logs[name].fileno(), _TAIL_BYTES)

    def _stderr_tail(self):
        lines = [line if len(line) <= _STDERR_LINE_CHARS else
                 '%s [... %d characters cut]' % (line[:_STDERR_LINE_CHARS],
                                                len(line) - _STDERR_LINE_CHARS)
                 for line in self.stderr.rstrip().splitlines()[-_STDERR_TAIL_LINES:]]
        if not lines:
            return 'its stderr is empty'
        return 'the last lines of its stderr:\n    ' + '\n    '.join(lines)

    def _supervised(self):
        return self._platform.process_containment != 'job_object'

    def _spawn(self, command, keep_fd, env, cwd):
        devnull = open(os.devnull, 'rb')
        out = err = None
        try:
            if self._supervised():
                out, err = self._logs['stdout'], self._logs['stderr']
                # On first use: the launcher loads select and signal (import stays light).
                from . import _launcher
                try:
                    self.process = _launcher.start(
                        command, self._platform.process_containment, listen_fd=keep_fd,
                        stdin=devnull, stdout=out, stderr=err, env=env, cwd=cwd)
                except _launcher.SupervisorError as exc:
                    raise ServerStartError('start_server_process(mode=%r): %s; command: %r'
                                           % (self.mode, exc, command))
                self._tree_root = self.process.supervisor.pid
            else:  # Windows: no supervisor yet (job objects); the child alone
                out = open(os.path.join(self._log_dir, 'stdout.log'), 'ab')
                err = open(os.path.join(self._log_dir, 'stderr.log'), 'ab')
                self.process = _compat.popen_new_session(
                    command, () if keep_fd is None else (keep_fd,),
                    new_session=self._platform.process_groups,
                    stdin=devnull, stdout=out, stderr=err, env=env, cwd=cwd)
                self._tree_root = self.process.pid
        finally:
            for handle in (devnull, out, err):
                if handle is not None and handle not in self._logs.values():
                    handle.close()

    def _pause(self, seconds):
        """Sleep up to *seconds*; a supervised child's exit ends the pause at once."""
        if seconds <= 0:
            return
        if self._supervised():
            readable = _waits.wait_readable(self.process, seconds)
            if not readable or self.process.poll() is not None:
                return
        time.sleep(seconds)  # no news channel (Popen), or one at end of file

    def _wait(self, timeout):
        return _waits.poll(lambda remaining: self.process.poll() is not None, timeout,
                           _compat.monotonic, time.sleep)

    def stop(self, timeout=None):
        """End the child and everything it started, release everything; return its status.

        Sends SIGTERM to the child's whole process tree, waits up to *timeout*
        seconds (default ``stop_timeout``, 5 s), then SIGKILLs what is left and
        reaps it. On Linux the tree includes descendants that daemonised
        (double fork and ``setsid()``): the child runs under a supervisor
        that is their subreaper. On macOS and the BSDs it is the child's
        process group (a descendant that left it is not ended); on Windows
        the child alone. Returns once the tree is gone and the port refuses
        connections (waiting at most 1 s more for that). Always closes the
        parent's copy of the listening socket, ends the port lease and removes
        the captured output files (``stdout``/``stderr`` keep their tails).
        Returns the exit status (negative: the signal). Calling it again just
        returns the status.
        """
        if self._stopped:
            return self.returncode
        self._stopped = True
        timeout = self.stop_timeout if timeout is None else timeout
        try:
            if self.process is not None:
                self._end_process(timeout)
        finally:
            self._release()
        return self.returncode

    def _end_process(self, timeout):
        process, platform = self.process, self._platform
        if self._supervised():
            process.stop(timeout, remove=False)
        else:
            if process.poll() is None:
                _processes.signal_process_group(platform, process, hard=False)
                if not self._wait(timeout):
                    _processes.signal_process_group(platform, process, hard=True)
                process.wait()
        if self.port is not None:
            _waits.poll(lambda remaining: self._refused(), _REFUSE_WAIT, _compat.monotonic,
                        time.sleep)

    def _refused(self):
        try:
            return _waits.try_connect(self.host, self.port, 0.1, self._platform,
                                      'ServerProcess.stop') is not None
        except _compat.OS_ERRORS:  # unreachable, say: nothing of ours answers there
            return True

    def _release(self):
        try:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
        finally:
            try:
                if self._leased is not None:
                    leased, self._leased = self._leased, None
                    try:
                        allocator.release_port(leased)
                    except ValueError:  # the lease ran out and went elsewhere
                        pass
            finally:
                self._captured = {'stdout': self.stdout, 'stderr': self.stderr}
                for fp in self._logs.values():
                    fp.close()
                if self._log_dir is not None:
                    import shutil
                    shutil.rmtree(self._log_dir, True)


def _substitute(argv, host, port):
    result = []
    for arg in argv:
        arg = arg.replace('{host}', host)
        if port is not None:
            arg = arg.replace('{port}', str(port))
        result.append(arg)
    return result


def _check_argv(argv, mode):
    if isinstance(argv, _compat.string_types) or not isinstance(argv, (list, tuple)):
        raise TypeError('start_server_process(): argv must be a list of strings, e.g. '
                        '[sys.executable, "-m", "http.server", "0"], got %s %r'
                        % (type(argv).__name__, argv))
    if not argv:
        raise ValueError('start_server_process(): argv is empty; name the program to run')
    for arg in argv:
        if not isinstance(arg, _compat.string_types):
            raise TypeError('start_server_process(): every argument must be a string, got '
                            '%s %r in %r' % (type(arg).__name__, arg, argv))
    if mode not in _SERVER_MODES:
        raise ValueError("start_server_process(): mode must be 'inherit', 'discover' or "
                         "'lease', got %r" % (mode,))
    has_placeholder = any('{port}' in arg for arg in argv)
    if mode == 'lease' and not has_placeholder:
        raise ValueError("start_server_process(mode='lease'): no argument contains {port}, "
                         "so the server cannot be told the leased port; write it where the "
                         "port goes, e.g. ['--port', '{port}'], got %r" % (list(argv),))
    if mode != 'lease' and has_placeholder:
        why = ('the server gets its listening socket as descriptor 3 (LISTEN_FDS)'
               if mode == 'inherit' else 'the server chooses the port (bind to port 0)')
        raise ValueError("start_server_process(mode=%r): argv contains {port}, but %s; "
                         "remove it, or use mode='lease' for a server that must be told "
                         "a port number: %r" % (mode, why, list(argv)))


def start_server_process(argv, mode='inherit', host=None, family=socket.AF_INET, env=None,
                         cwd=None, timeout=None, stop_timeout=_STOP_TIMEOUT, choose_port=None):
    """Start the server *argv* in a child process; return a :class:`ServerProcess` once ready.

    How the port becomes known, by *mode*:

    ``'inherit'`` (no race at all)
        the parent binds a listening socket with ``bind_port`` and the child
        inherits it as descriptor 3 with ``LISTEN_FDS=1`` and ``LISTEN_PID``
        set: the systemd socket-activation protocol, which gunicorn reads by
        itself (no ``--bind`` needed), uvicorn with ``--fd 3``, hypercorn and
        Twisted ``systemd:`` endpoints. The parent closes
        its copy at once, so if the child dies connections are refused rather
        than hang. Ready once the program runs: connections made before the
        server calls ``accept()`` wait in the listen backlog. POSIX only
        (SkipTest elsewhere).
    ``'discover'`` (no race at all)
        the server binds port 0 itself; the parent watches which TCP ports the
        child's process tree listens on (``_port_tables.listening_ports``) and
        takes the first one that appears at *host* (or a wildcard), then waits
        until it accepts a connection. If several appear at once, so that
        which came first is unknown, ServerStartError names them all unless
        *choose_port* is given: a function that gets the ``(host, port)``
        listeners of the tree in the order they were seen and returns the
        port to use, or None to wait for more (e.g. ``lambda found:
        found[1][1] if len(found) > 1 else None``). SkipTest where that cannot
        be asked (e.g. macOS without ``lsof``).
    ``'lease'`` (race only against processes that do not use testsupport)
        ``reserve_port()`` leases a port, which replaces ``{port}`` in *argv*;
        for servers that only take a number. Ready when a connection is accepted.

    ``{host}`` in *argv* is replaced by *host* in every mode. *host* None means
    ``HOST`` (``HOSTv6`` for AF_INET6). *env* (default: this process's
    environment) and *cwd* are the child's. The child starts in a session and
    process group of its own, with stdin from the null device and its
    stdout/stderr captured in files. On Linux, macOS and the BSDs it runs under
    a small supervisor process that ends its whole tree, and removes the
    captured output, when this process ends in any way (SIGKILL included).

    Raises :class:`ServerStartError` when the program cannot be run (naming
    it and the OS error), when the child exits, or (discover, lease) does not
    accept connections within *timeout* seconds (default
    ``support.SHORT_TIMEOUT``), saying which, with the tail of its stderr;
    everything is cleaned up first. TypeError/ValueError for bad arguments
    (e.g. ``{port}`` missing in lease mode). The caller must call ``stop()``,
    which ends the whole tree, SIGKILLing it after *stop_timeout* seconds.

    .. versionadded:: 0.1.0
    """
    return _start_server_process(argv, mode, host, family, env, cwd, timeout, stop_timeout,
                                 platform_shim.current(), None, choose_port)


def _start_server_process(argv, mode, host, family, env, cwd, timeout, stop_timeout,
                          platform, discover, choose_port=None):
    _check_argv(argv, mode)
    timeout = _sockets.check_timeout('start_server_process', timeout, support.SHORT_TIMEOUT)
    if family not in (socket.AF_INET, socket.AF_INET6):
        raise ValueError('start_server_process(): family must be AF_INET or AF_INET6, got %r'
                         % (family,))
    if choose_port is not None and (mode != 'discover' or not callable(choose_port)):
        raise ValueError("start_server_process(): choose_port is for mode='discover' and must "
                         "be a function of the [(host, port), ...] found, got %r with mode=%r"
                         % (choose_port, mode))
    if host is None:
        host = socket_helper.HOSTv6 if family == socket.AF_INET6 else socket_helper.HOST
    if mode == 'inherit' and not platform.process_groups:
        raise unittest.SkipTest("start_server_process(mode='inherit') needs a POSIX system to "
                                "hand a socket to a child (LISTEN_FDS); on %s use "
                                "mode='discover' or 'lease'" % platform.name)
    if discover is None:
        discover = _Discoverer(platform)
    server = ServerProcess(argv, mode, host, None, stop_timeout, platform)
    try:
        _launch(server, argv, host, family, env, cwd)
        if mode != 'inherit':
            _await_ready(server, family, timeout, discover, platform, choose_port)
    except BaseException:
        server.stop()
        raise
    return server


class _Discoverer(object):
    """``discover(pid)``: the listeners of the tree of *pid*, scanned only when needed.

    Each call reads the host's table of listening sockets (netlink on Linux:
    about 0.1 ms). Only when a socket appears that the last call did not see
    are descriptors read: first those of *pid*'s children (the server, under
    its supervisor), and the whole tree only if that does not account for it.
    """

    def __init__(self, platform):
        self.platform = platform
        self.known = set()
        self.ours = set()
        self.others = set()

    def __call__(self, pid):
        table = _port_tables.listening_sockets(self.platform)
        if table is None:  # no cheap table here: ask the full question every time
            return _port_tables.listening_ports(self.platform, pid)
        new = set(table) - self.known
        self.known = set(table)
        if new:
            held = set()
            for child in _children(pid):
                held |= _port_tables.socket_inodes(child)
            self.ours |= new & held
            if new - held:
                found = set(_port_tables.listening_ports(self.platform, pid))
                for inode in new - held:
                    (self.ours if table[inode] in found else self.others).add(inode)
        return sorted(table[inode] for inode in self.ours if inode in table)


def _children(pid):
    """The children of *pid* (Linux, ``/proc/<pid>/task/*/children``), *pid* if unknown."""
    text = _system.read_text_file('/proc/%d/task/%d/children' % (pid, pid))
    return [int(word) for word in text.split()] if text is not None else [pid]


def _launch(server, argv, host, family, env, cwd):
    env = dict(os.environ if env is None else env)
    for name in ('LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES'):
        env.pop(name, None)
    keep_fd = None
    if server.mode == 'inherit':
        server._listener = servers.make_listener(family, host, backlog=128)
        server.port = server._listener.getsockname()[1]
        keep_fd = server._listener.fileno()
    elif server.mode == 'lease':
        server.port = server._leased = allocator.reserve_port(family, host=host)
    server.argv = _substitute(argv, host, server.port)
    try:
        server._spawn(server.argv, keep_fd, env, cwd)
    except _compat.OS_ERRORS as exc:
        error = ('[Errno %s] %s' % (exc.errno, exc.strerror) if exc.errno else str(exc))
        raise ServerStartError(
            'start_server_process(mode=%r): cannot run %r: %s; check the program name '
            '(is it installed, on PATH, executable?); command: %r'
            % (server.mode, server.argv[0], error, server.argv))
    if server._listener is not None:
        server._listener.close()  # the child's copy is the server's; ours would hide its death
        server._listener = None


def _matching(found, host, family):
    """The listeners of *found* a client of *host* reaches: *host* itself or a wildcard."""
    wildcard = '::' if family == socket.AF_INET6 else '0.0.0.0'
    return [(bound, port) for bound, port in found if bound in (host, wildcard, '::')]


def _listeners_text(found):
    return ', '.join(_sockets.format_address(h, p) for h, p in found)


def _await_ready(server, family, timeout, discover, platform, choose_port=None):
    process = server.process
    clock = _compat.monotonic
    deadline = clock() + timeout
    seen = []  # every listener of the tree, in the order the checks saw them
    ready = False
    while process.poll() is None:
        if server.port is None:
            found = discover(server._tree_root)
            if found is None:
                raise unittest.SkipTest(
                    "start_server_process(mode='discover') cannot ask this system which "
                    "ports a process listens on (%s: %s); use mode='inherit' or 'lease'"
                    % (platform.name, {'lsof': 'is lsof installed?'}.get(
                        platform.port_discovery, platform.port_discovery)))
            new = [listener for listener in found if listener not in seen]
            seen.extend(new)
            server.port = _choose(server, seen, new, family, choose_port)
        if server.port is not None:
            remaining = deadline - clock()
            error = _waits.try_connect(server.host, server.port,
                                       max(min(remaining, _waits.LONGEST_ATTEMPT), 0.01),
                                       platform, 'start_server_process')
            if error is None:
                ready = True
                break
        remaining = deadline - clock()
        if remaining <= 0:
            break
        server._pause(min(_READY_STEP, remaining))
    if ready:
        return
    if server.mode == 'discover':
        goal = 'listened on a TCP port'
        if server.port is not None:
            goal = 'accepted a connection at %s' % _sockets.format_address(server.host, server.port)
        elif seen:
            goal += ' at %s (it listens on %s only)' % (server.host, _listeners_text(seen))
    else:
        goal = 'accepted a connection at %s' % _sockets.format_address(server.host, server.port)
    code = process.poll()
    if code is not None:
        status = ('status %d' % code if code >= 0 else 'signal %d' % -code)
        raise ServerStartError(
            "start_server_process(mode=%r): the server exited with %s before it %s; "
            "command: %r; %s" % (server.mode, status, goal, server.argv, server._stderr_tail()))
    raise ServerStartError(
        "start_server_process(mode=%r): the server is running but never %s within "
        "%.1f s; check that it listens on %s%s; command: %r; %s"
        % (server.mode, goal, timeout, server.host,
           ' at the port it is given' if server.mode == 'lease' else '', server.argv,
           server._stderr_tail()))


def _choose(server, seen, new, family, choose_port):
    """The port to wait on among the listeners *seen* (*new*: this check's), or None."""
    if choose_port is not None:
        return choose_port(list(seen)) if new else None
    candidates = _matching(new, server.host, family)
    if len(candidates) == 1:
        return candidates[0][1]
    if len(candidates) > 1:
        raise ServerStartError(
            "start_server_process(mode='discover'): the server listens on %s, which appeared "
            "together, so which it opened first is unknown; pass choose_port=, a function "
            "that gets the (host, port) listeners in the order seen and returns the port to "
            "use (or None to wait), or use mode='lease' with {port} for the service port; "
            "command: %r" % (_listeners_text(seen), server.argv))
    return None
