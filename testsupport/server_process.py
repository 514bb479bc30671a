"""Servers in child processes: start_server_process() and the ServerProcess it returns.

The child gets its port by inheriting a listening socket (systemd's
LISTEN_FDS), by binding port 0 itself and being asked which port it took, or
by being told a leased port; :class:`ServerProcess` captures its output and
ends its whole process group.

.. versionadded:: 0.1.0
"""
from __future__ import absolute_import, division, print_function

import os
import socket
import sys
import time
import unittest

from . import (
    _compat,
    _port_tables,
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

# Run as ``python -E -c <this> <fd> argv...`` between fork and the server's
# exec: puts the listening socket on descriptor 3, closes the others (2.7 cannot
# close them in Popen without closing ours), sets LISTEN_FDS and LISTEN_PID (the
# pid the server will have, as it replaces this process), then execs the server.
_LISTEN_FDS_WRAPPER = '''\
import os, sys
fd = int(sys.argv[1])
if fd != 3:
    os.dup2(fd, 3)
    os.close(fd)
elif hasattr(os, "set_inheritable"):
    os.set_inheritable(3, True)
where = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"
for name in os.listdir(where):
    if int(name) > 3:
        try:
            os.close(int(name))
        except OSError:
            pass
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_PID"] = str(os.getpid())
try:
    os.execvp(sys.argv[2], sys.argv[2:])
except OSError as exc:
    sys.stderr.write("start_server_process(): cannot run %r: %s\\n" % (sys.argv[2], exc))
    sys.stderr.flush()
    os._exit(127)
'''


class ServerStartError(RuntimeError):
    """A server process exited, or did not listen, before it was ready.

    The message says which, with the exit status or the timeout, the command,
    and the last lines of the child's stderr.
    """


class ServerProcess(object):
    """A server running in a child process: made by :func:`start_server_process`.

    ``host`` and ``port`` are where to connect (``host, port = server`` unpacks
    them), ``process`` is the ``subprocess.Popen``, ``mode`` and ``argv`` what
    started it. ``stdout`` and ``stderr`` are the text the child has written so
    far (captured in files, so a chatty child never blocks on a full pipe).
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
        import tempfile
        self._log_dir = tempfile.mkdtemp(prefix='testsupport-server-')
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
        return None if self.process is None else self.process.returncode

    @property
    def stdout(self):
        """What the child wrote to stdout so far, as text (undecodable bytes replaced)."""
        return self._read_log('stdout')

    @property
    def stderr(self):
        """What the child wrote to stderr so far, as text (undecodable bytes replaced)."""
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

    def _log_path(self, name):
        return os.path.join(self._log_dir, name + '.log')

    def _read_log(self, name):
        if self._captured is not None:
            return self._captured[name]
        try:
            with open(self._log_path(name), 'rb') as fp:
                data = fp.read()
        except _compat.OS_ERRORS:
            return ''
        return data.decode('utf-8', 'replace')

    def _stderr_tail(self):
        lines = self.stderr.rstrip().splitlines()[-_STDERR_TAIL_LINES:]
        if not lines:
            return 'its stderr is empty'
        return 'the last lines of its stderr:\n    ' + '\n    '.join(lines)

    def _spawn(self, command, keep_fd, env, cwd):
        devnull = open(os.devnull, 'rb')
        out = err = None
        try:
            out = open(self._log_path('stdout'), 'ab')
            err = open(self._log_path('stderr'), 'ab')
            self.process = _compat.popen_new_session(
                command, () if keep_fd is None else (keep_fd,),
                new_session=self._platform.process_groups,
                stdin=devnull, stdout=out, stderr=err, env=env, cwd=cwd)
        finally:
            for handle in (devnull, out, err):
                if handle is not None:
                    handle.close()

    def _wait(self, timeout):
        return _waits.poll(lambda remaining: self.process.poll() is not None, timeout,
                     _compat.monotonic, time.sleep)

    def stop(self, timeout=None):
        """End the child and its process group, reap it, release everything; return its status.

        Sends SIGTERM to the child's process group, waits up to *timeout*
        seconds (default ``stop_timeout``, 5 s), then SIGKILLs the group and
        reaps the child; descendants still in its group are SIGKILLed too.
        Always closes the parent's copy of the listening socket, ends the port
        lease and removes the captured output files (``stdout``/``stderr`` keep
        their text). Returns the exit status (negative: the signal). Calling it
        again just returns the status.
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
        if process.poll() is None:
            _system.signal_process_group(platform, process, hard=False)
            if not self._wait(timeout):
                _system.signal_process_group(platform, process, hard=True)
            process.wait()
        # Descendants that outlived the child keep its process group: kill them too.
        if platform.process_groups:
            others = [pid for pid in _system.process_tree(platform, process.pid)
                      if pid != process.pid]
            if others or platform.port_discovery != 'procfs':
                _system.signal_process_group(platform, process, hard=True)

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
                         cwd=None, timeout=None, stop_timeout=_STOP_TIMEOUT):
    """Start the server *argv* in a child process; return a :class:`ServerProcess` once ready.

    How the port becomes known, by *mode*:

    ``'inherit'`` (no race at all)
        the parent binds a listening socket with ``bind_port`` and the child
        inherits it as descriptor 3 with ``LISTEN_FDS=1`` and ``LISTEN_PID``
        set: the systemd socket-activation protocol, which gunicorn reads by
        itself (no ``--bind`` needed), uvicorn with ``--fd 3``, hypercorn and
        Twisted ``systemd:`` endpoints. The parent closes
        its copy at once, so if the child dies connections are refused rather
        than hang. Ready at once: connections made before the server calls
        ``accept()`` wait in the listen backlog. POSIX only (SkipTest elsewhere).
    ``'discover'`` (no race at all)
        the server binds port 0 itself; the parent asks the kernel which TCP
        port the child's process tree listens on (``_port_tables.listening_ports``),
        then waits until it accepts a connection. SkipTest where that cannot be
        asked (e.g. macOS without ``lsof``).
    ``'lease'`` (race only against processes that do not use testsupport)
        ``reserve_port()`` leases a port, which replaces ``{port}`` in *argv*;
        for servers that only take a number. Ready when a connection is accepted.

    ``{host}`` in *argv* is replaced by *host* in every mode. *host* None means
    ``HOST`` (``HOSTv6`` for AF_INET6). *env* (default: this process's
    environment) and *cwd* are the child's. The child starts in a session and
    process group of its own, with stdin from the null device and its
    stdout/stderr captured in files.

    Raises :class:`ServerStartError` when the child exits, or (discover, lease)
    does not accept connections within *timeout* seconds (default
    ``support.SHORT_TIMEOUT``), saying which, with the tail of its stderr;
    everything is cleaned up first. TypeError/ValueError for bad arguments
    (e.g. ``{port}`` missing in lease mode). The caller must call ``stop()``,
    which ends the whole process group after *stop_timeout* seconds.

    .. versionadded:: 0.1.0
    """
    return _start_server_process(argv, mode, host, family, env, cwd, timeout, stop_timeout,
                                 platform_shim.current(), None)


def _start_server_process(argv, mode, host, family, env, cwd, timeout, stop_timeout,
                          platform, discover):
    _check_argv(argv, mode)
    timeout = _sockets.check_timeout('start_server_process', timeout, support.SHORT_TIMEOUT)
    if family not in (socket.AF_INET, socket.AF_INET6):
        raise ValueError('start_server_process(): family must be AF_INET or AF_INET6, got %r'
                         % (family,))
    if host is None:
        host = socket_helper.HOSTv6 if family == socket.AF_INET6 else socket_helper.HOST
    if mode == 'inherit' and not platform.process_groups:
        raise unittest.SkipTest("start_server_process(mode='inherit') needs a POSIX system to "
                                "hand a socket to a child (LISTEN_FDS); on %s use "
                                "mode='discover' or 'lease'" % platform.name)
    if discover is None:
        def discover(pid):
            return _port_tables.listening_ports(platform, pid)
    server = ServerProcess(argv, mode, host, None, stop_timeout, platform)
    try:
        _launch(server, argv, host, family, env, cwd)
        if mode != 'inherit':
            _await_ready(server, family, timeout, discover, platform)
    except BaseException:
        server.stop()
        raise
    return server


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
    command = server.argv
    if keep_fd is not None:
        command = ([sys.executable, '-E', '-c', _LISTEN_FDS_WRAPPER, str(keep_fd)]
                   + server.argv)
    try:
        server._spawn(command, keep_fd, env, cwd)
    except _compat.OS_ERRORS as exc:
        raise ServerStartError('start_server_process(): cannot run %r: %s'
                               % (server.argv, exc))
    if server._listener is not None:
        server._listener.close()  # the child's copy is the server's; ours would hide its death
        server._listener = None


def _pick_port(found, host, family):
    """The port to use from the ``(host, port)`` listeners found, or None."""
    wildcard = '::' if family == socket.AF_INET6 else '0.0.0.0'
    for wanted in (host, wildcard, '::'):
        ports = [port for bound, port in found if bound == wanted]
        if ports:
            return ports[0]
    return None


def _await_ready(server, family, timeout, discover, platform):
    process = server.process
    state = {'listeners': None, 'last': None}

    def ready(remaining):
        if process.poll() is not None:
            return True
        if server.port is None:
            found = discover(process.pid)
            if found is None:
                raise unittest.SkipTest(
                    "start_server_process(mode='discover') cannot ask this system which "
                    "ports a process listens on (%s: %s); use mode='inherit' or 'lease'"
                    % (platform.name, {'lsof': 'is lsof installed?'}.get(
                        platform.port_discovery, platform.port_discovery)))
            state['listeners'] = found
            server.port = _pick_port(found, server.host, family)
            if server.port is None:
                return False
        error = _waits.try_connect(server.host, server.port,
                                   max(min(remaining, _waits.LONGEST_ATTEMPT), 0.01), platform,
                                   'start_server_process')
        state['last'] = error
        return error is None

    done = _waits.poll(ready, timeout, _compat.monotonic, time.sleep)
    if server.mode == 'discover':
        goal = 'listened on a TCP port'
        if server.port is not None:
            goal = 'accepted a connection at %s' % _sockets.format_address(server.host, server.port)
        elif state['listeners']:
            goal += ' at %s (it listens on %s only)' % (server.host, ', '.join(
                _sockets.format_address(h, p) for h, p in state['listeners']))
    else:
        goal = 'accepted a connection at %s' % _sockets.format_address(server.host, server.port)
    if process.poll() is not None:
        code = process.returncode
        status = ('status %d' % code if code >= 0 else 'signal %d' % -code)
        raise ServerStartError(
            "start_server_process(mode=%r): the server exited with %s before it %s; "
            "command: %r; %s" % (server.mode, status, goal, server.argv, server._stderr_tail()))
    if not done:
        raise ServerStartError(
            "start_server_process(mode=%r): the server is running but never %s within "
            "%.1f s; check that it listens on %s%s; command: %r; %s"
            % (server.mode, goal, timeout, server.host,
               ' at the port it is given' if server.mode == 'lease' else '', server.argv,
               server._stderr_tail()))
