"""Servers and waits for tests: the layer SocketTestMixin and the pytest fixtures wrap.

Plain functions with no knowledge of test cases. Each returns what the caller
must later close or stop (a socket, a directory, a :class:`ServerThread`), and
cleans up after itself when it fails half-way. Ports come from the one
``bind_port`` under :func:`testsupport.socket_helper.bind_port`; nothing here binds in a loop.

.. versionadded:: 0.1.0
"""
from __future__ import absolute_import, division, print_function

import os
import socket
import sys
import threading
import time
import unittest

from . import _compat, _port_tables, _sockets, _system, platform_shim, socket_helper, support

__all__ = [
    'DEFAULT_POLL_INTERVAL',
    'ServerProcess',
    'ServerStartError',
    'ServerStopError',
    'ServerThread',
    'WaitTimeoutError',
    'make_listener',
    'make_udp_socket',
    'make_unix_socket_dir',
    'port_in_use',
    'remove_unix_socket_dir',
    'start_server_process',
    'start_server_thread',
    'unix_socket_path',
    'wait_for_port',
    'wait_for_port_free',
]

#: How often (seconds) a served ``serve_forever()`` loop checks for shutdown.
DEFAULT_POLL_INTERVAL = 0.05

#: The file name :func:`unix_socket_path` uses inside its fresh directory.
_UNIX_SOCKET_NAME = 'test.sock'

# wait_for_port back-off: first pause, growth factor, longest pause (seconds).
_FIRST_PAUSE = 0.005
_PAUSE_GROWTH = 2.0
_LONGEST_PAUSE = 0.25
# Longest single connect attempt, so that a black-holed SYN cannot use up the wait.
_LONGEST_ATTEMPT = 1.0

_TYPE_LABELS = {socket.SOCK_STREAM: 'TCP', socket.SOCK_DGRAM: 'UDP'}


class WaitTimeoutError(_compat.TimeoutErrorBase):
    """A wait for a port gave up: a ``TimeoutError`` (an ``OSError`` on Python 2.7).

    The message names the host, the port, the timeout, the last connection
    result and what to check.
    """


class ServerStopError(RuntimeError):
    """A served server did not stop, or its ``serve_forever()`` raised."""


_format_address = _sockets.format_address
_check_port = _sockets.check_port


def _check_timeout(caller, timeout):
    return _sockets.check_timeout(caller, timeout, support.SHORT_TIMEOUT)


def _bound_socket(family, socktype, host, caller):
    platform = platform_shim.current()
    _sockets.check_port_family(caller, family, platform)
    sock = socket.socket(family, socktype)
    try:
        _sockets.bind_port(sock, host, caller, platform)
    except BaseException:
        sock.close()
        raise
    return sock


def make_listener(family=socket.AF_INET, host=None, backlog=5):
    """Return a TCP socket bound with ``bind_port`` to a free port and listening.

    *host* None means ``HOST``, or ``HOSTv6`` for AF_INET6. The caller closes the
    socket. Any error (ValueError for AF_UNIX, the socket error where IPv6 is
    off, TestFailed from ``bind_port``) propagates after the socket is closed.
    """
    _sockets.check_int('make_listener', 'backlog', backlog, '5')
    sock = _bound_socket(family, socket.SOCK_STREAM, host, 'make_listener')
    try:
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def make_udp_socket(family=socket.AF_INET, host=None):
    """Return a UDP socket bound with ``bind_port`` to a free port.

    *host* as for :func:`make_listener`. The caller closes the socket; on error
    it is closed here and the error propagates.
    """
    return _bound_socket(family, socket.SOCK_DGRAM, host, 'make_udp_socket')


def make_unix_socket_dir():
    """Create and return a new private (0700) directory with a short path.

    Short enough that a socket name of 40 bytes in it fits the AF_UNIX limit.
    The caller removes it with :func:`remove_unix_socket_dir`.
    """
    return _sockets.make_private_dir(platform_shim.current())


def unix_socket_path():
    """Return ``(path, directory)``: a fresh AF_UNIX path in a new private directory.

    The file does not exist yet (``bind()`` creates it). The caller passes
    *directory* to :func:`remove_unix_socket_dir` when done, which removes the
    socket file too.
    """
    directory = make_unix_socket_dir()
    return os.path.join(directory, _UNIX_SOCKET_NAME), directory


def remove_unix_socket_dir(directory):
    """Remove *directory* and everything in it; a directory already gone is fine."""
    _system.remove_tree_quietly(directory)


class ServerThread(object):
    """A ``socketserver`` server (``SocketServer`` on 2.7) served in a daemon thread.

    Create it with :func:`start_server_thread`. ``address`` is
    ``server.server_address[:2]``, i.e. ``(host, port)``. :meth:`stop` must be
    called once the test is done with the server.
    """

    def __init__(self, server, poll_interval=DEFAULT_POLL_INTERVAL):
        import importlib
        socketserver = importlib.import_module(_compat.socketserver_name)
        if not isinstance(server, socketserver.BaseServer):
            raise TypeError('start_server_thread() expects a %s.BaseServer (TCPServer, '
                            'HTTPServer, ...), got %s %r'
                            % (_compat.socketserver_name, server.__class__.__name__, server))
        poll_interval = _sockets.check_timeout('start_server_thread', poll_interval,
                                               DEFAULT_POLL_INTERVAL, 'poll_interval')
        if not poll_interval:
            raise ValueError('start_server_thread(): poll_interval must be a number of seconds '
                             '> 0, got %r; pass e.g. %r (the default)'
                             % (poll_interval, DEFAULT_POLL_INTERVAL))
        self.server = server
        self.poll_interval = poll_interval
        self.address = tuple(server.server_address[:2])
        self.error = None
        self._stopped = False
        self._stopper = None
        self.thread = threading.Thread(target=self._serve,
                                       name='testsupport server %s' % (self.address,))
        self.thread.daemon = True

    def __iter__(self):
        """Unpack as ``host, port = start_server_thread(server)``, like the mixin's result."""
        return iter(self.address)

    def __repr__(self):
        return '<ServerThread %s %s>' % (self.server.__class__.__name__,
                                         _format_address(*self.address))

    def _serve(self):
        try:
            self.server.serve_forever(poll_interval=self.poll_interval)
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def start(self):
        """Start serving; returns ``address``."""
        self.thread.start()
        return self.address

    def stop(self, timeout=None):
        """Stop serving: ``shutdown()``, ``server_close()``, then join the thread.

        Waits at most *timeout* seconds (default ``support.SHORT_TIMEOUT``) for
        the loop to end. ``server_close()`` always runs. Raises
        :class:`ServerStopError` if the thread is still running then (a request
        handler that never returns, typically), or if ``serve_forever()``
        raised. Calling it again does nothing.
        """
        timeout = _sockets.check_timeout('ServerThread.stop', timeout, support.SHORT_TIMEOUT)
        if self._stopped:
            return
        self._stopped = True
        deadline = _compat.monotonic() + timeout
        try:
            stopper = self._stopper = None
            if self.thread.is_alive():
                # shutdown() waits for the loop without a timeout; calling it from a
                # helper thread keeps a hung request handler from hanging the run.
                stopper = self._stopper = threading.Thread(target=self.server.shutdown,
                                           name='testsupport shutdown %s' % (self.address,))
                stopper.daemon = True
                stopper.start()
            self.thread.join(max(0.0, deadline - _compat.monotonic()))
            if stopper is not None:
                if not self.thread.is_alive():
                    _release_shutdown(self.server)
                stopper.join(max(0.0, deadline - _compat.monotonic()))
        finally:
            self.server.server_close()
        if self.thread.is_alive():
            raise ServerStopError(
                'the %s serving %s did not stop within %.1f s of shutdown(); a request '
                'handler is probably blocked (e.g. reading from a client that never '
                'sends): give client sockets a timeout and close them before the test ends'
                % (self.server.__class__.__name__, _format_address(*self.address), timeout))
        if self.error is not None:
            raise ServerStopError('serve_forever() of the %s serving %s raised %s: %s'
                                  % (self.server.__class__.__name__,
                                     _format_address(*self.address),
                                     type(self.error).__name__, self.error))


def _release_shutdown(server):
    """Let a waiting ``shutdown()`` return once the serving thread has ended.

    A stdlib ``serve_forever()`` signals this itself on the way out; one that a
    subclass overrode and that raised before its loop never does, and
    ``shutdown()`` would wait for ever.
    """
    event = getattr(server, '_BaseServer__is_shut_down', None)
    if event is not None:
        event.set()


def start_server_thread(server, poll_interval=DEFAULT_POLL_INTERVAL):
    """Serve *server* (``TCPServer``, ``HTTPServer``, ...) in a daemon thread.

    Returns the started :class:`ServerThread`; its ``address`` is
    ``(host, port)`` and the caller must call its ``stop()``. *poll_interval*
    bounds how long ``stop()`` waits for the loop to notice the shutdown.
    TypeError if *server* is not a socketserver server.
    """
    served = ServerThread(server, poll_interval)
    served.start()
    return served


def _retry_errnos(platform):
    return set(platform.conn_refused_errnos(socket_helper.IPV6_ENABLED)
               + [platform.errnos['ECONNRESET'], platform.errnos['ETIMEDOUT']])


def _try_connect(host, port, timeout, platform, caller):
    """Connect once; None if something accepted, else the (retryable) error."""
    try:
        sock = socket.create_connection((host, port), timeout)
    except _compat.TIMEOUT_ERRORS as exc:
        return exc
    except socket.gaierror as exc:
        raise socket.gaierror(exc.errno, '%s(): cannot resolve host %r: %s; wait on an IP '
                              'address such as HOST (%r) or HOSTv6 (%r)'
                              % (caller, host, exc.args[-1], _sockets.HOST, _sockets.HOSTv6))
    except _compat.OS_ERRORS as exc:
        if platform.errno_of(exc) in _retry_errnos(platform):
            return exc
        raise
    sock.close()
    return None


def _describe(exc):
    if exc is None:
        return 'a connection was accepted'
    return '%s: %s' % (type(exc).__name__, exc or 'timed out')


def _poll(check, timeout, clock, sleep):
    """Call ``check()`` until it returns True or *timeout* passes; return the last result."""
    deadline = clock() + timeout
    pause = _FIRST_PAUSE
    while True:
        remaining = deadline - clock()
        if check(max(remaining, 0.0)):
            return True
        remaining = deadline - clock()
        if remaining <= 0:
            return False
        sleep(min(pause, remaining))
        pause = min(pause * _PAUSE_GROWTH, _LONGEST_PAUSE)


def wait_for_port(port, host=socket_helper.HOST, timeout=None):
    """Return once something accepts TCP connections at (*host*, *port*).

    Polls with short connection attempts, pausing 5 ms, then twice as long each
    time up to 0.25 s. Each successful attempt is a connection the server sees
    (and then sees closed): waiting is done by connecting, so a test that
    calls ``accept()`` on the listener itself should not wait on it this way
    (:func:`port_in_use` and the mixin's assertions never connect). *timeout*
    defaults to ``support.SHORT_TIMEOUT`` (30 s): long enough for a server
    process to start on a busy machine.

    Raises :class:`WaitTimeoutError` naming the address, the timeout and the last
    error when nothing accepts in time; TypeError/ValueError for a bad port or
    timeout; errors other than a refused, reset or timed-out connection (e.g. a
    host that does not resolve) propagate at once.
    """
    return _wait_for_port(port, host, timeout, platform_shim.current(),
                          _compat.monotonic, time.sleep)


def _check_wait(caller, port, host, timeout):
    """The checked (host, timeout) of a wait; host None means HOST."""
    _check_port(caller, port)
    host = _sockets.loopback(socket.AF_INET, host)
    _sockets.check_host(caller, host)
    return host, _check_timeout(caller, timeout)


def _wait_for_port(port, host, timeout, platform, clock, sleep):
    host, timeout = _check_wait('wait_for_port', port, host, timeout)
    last = []

    def accepted(remaining):
        error = _try_connect(host, port, max(min(remaining, _LONGEST_ATTEMPT), 0.01), platform,
                             'wait_for_port')
        last[:] = [error]
        return error is None

    if not _poll(accepted, timeout, clock, sleep):
        raise WaitTimeoutError(
            'wait_for_port(): nothing accepted TCP connections at %s within %.1f s '
            '(last attempt: %s); check that the server started, listens on that host '
            'and port, and did not exit (look at its output)'
            % (_format_address(host, port), timeout, _describe(last[0] if last else None)))


def wait_for_port_free(port, host=socket_helper.HOST, timeout=None):
    """Return once nothing accepts TCP connections at (*host*, *port*) any more.

    "Free" means a connection is refused: the listening socket is closed. That is
    what "the server has gone" means, and it is quick, whereas a ``bind()``
    without SO_REUSEADDR can keep failing for about a minute after a server closed
    connections (they stay in TIME_WAIT); use :func:`port_in_use` for that
    stricter question. Polls like :func:`wait_for_port`, with the same default
    timeout; each attempt that is accepted is a connection the server sees.

    Raises :class:`WaitTimeoutError` naming the address and the timeout if
    something still accepts connections then; TypeError/ValueError for a bad
    port or timeout.
    """
    return _wait_for_port_free(port, host, timeout, platform_shim.current(),
                               _compat.monotonic, time.sleep)


def _wait_for_port_free(port, host, timeout, platform, clock, sleep):
    host, timeout = _check_wait('wait_for_port_free', port, host, timeout)

    def refused(remaining):
        error = _try_connect(host, port, max(min(remaining, _LONGEST_ATTEMPT), 0.01), platform,
                             'wait_for_port_free')
        return error is not None and not isinstance(error, _compat.TIMEOUT_ERRORS)

    if not _poll(refused, timeout, clock, sleep):
        raise WaitTimeoutError(
            'wait_for_port_free(): something still accepts TCP connections at %s after '
            '%.1f s; stop the server (close its listening socket, or end its process) '
            'before waiting for the port to be free' % (_format_address(host, port), timeout))


def port_in_use(port, host=socket_helper.HOST, family=socket.AF_INET, socktype=socket.SOCK_STREAM):
    """Return ``(in_use, reason)``: whether (*host*, *port*) is taken, found without connecting.

    "Taken" means a ``bind()`` of a *family*/*socktype* socket without
    SO_REUSEADDR would fail. Nothing connects to the port, so a listener's
    accept queue is left alone. Where the platform lists its sockets
    (:func:`testsupport._port_tables.port_state`: Linux' ``/proc/net``) the
    table says whether a socket listens there, a connection uses it or closed
    connections linger in TIME_WAIT; otherwise, and when the table lists
    nothing, a fresh socket is bound to the address and closed, and
    EADDRINUSE (or EACCES: reserved) means in use. *reason* is a sentence
    naming the address and what was found, e.g. ``port 40123 on 127.0.0.1
    (TCP) is in use: a socket is listening on it (LISTEN in /proc/net/tcp)``.
    Other bind errors propagate, explained (e.g. EADDRNOTAVAIL for a host
    that is not local); TypeError/ValueError for a bad port, host, family or
    type. *host* None or ``HOST`` means the loopback address of *family*.
    """
    return _port_in_use(port, host, family, socktype, platform_shim.current(), socket.socket)


# port_in_use() reasons for what the socket table shows (PortState.state).
_TABLE_REASONS = {
    'listening': 'a socket is listening on it',
    'connected': 'a connection uses it as its local port',
    'bound': 'a socket is bound to it',
    'time_wait': 'a closed connection lingers on it',
}


def _port_in_use(port, host, family, socktype, platform, make_socket, read_file=None):
    _check_port('port_in_use', port)
    _sockets.check_port_family('port_in_use', family, platform, socktype)
    host = _sockets.loopback(family, host)
    _sockets.check_host('port_in_use', host)
    kind = _TYPE_LABELS.get(socktype, socktype)
    where = 'port %s on %s (%s)' % (port, host, kind)
    table = _port_tables.port_state(platform, port, host, family, socktype, read_file)
    if table is not None and table.state != 'free':
        found = table.table_state
        if table.address != host:
            found += ' on %s' % table.address
        reason = '%s is in use: %s (%s in %s)' % (where, _TABLE_REASONS[table.state], found,
                                                  table.source)
        if table.state == 'time_wait':
            reason += '; bind() without SO_REUSEADDR fails until it expires (about a minute)'
        return True, reason
    sock = make_socket(family, socktype)
    try:
        try:
            _sockets.bind(sock, host, port, 'port_in_use', platform)
        except _compat.OS_ERRORS as exc:
            if not platform.is_address_taken(exc):
                raise
            reason = '%s is in use: bind() failed: %s' % (where, exc)
            if table is not None:
                reason += '; %s list no socket on this address, so ' % table.source
                if socktype == socket.SOCK_STREAM:
                    reason += ('a socket is bound to it without listening (the table omits '
                               'those), or ')
                reason += ('a socket on an address that covers it holds it (e.g. an IPv6 '
                           'socket on [::] also takes IPv4)')
            return True, reason
    finally:
        sock.close()
    if table is None:
        return False, '%s is free: a test bind() succeeded' % where
    if socktype == socket.SOCK_STREAM:
        return False, '%s is free: nothing listens on it and it can be bound' % where
    return False, '%s is free: no socket is bound to it and it can be bound' % where


# -- Servers in child processes (issue #11) -------------------------------------

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
            self.mode, self.pid, _format_address(self.host, self.port), state)

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
        return _poll(lambda remaining: self.process.poll() is not None, timeout,
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
                    from . import allocator
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
    timeout = _check_timeout('start_server_process', timeout)
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
        server._listener = make_listener(family, host, backlog=128)
        server.port = server._listener.getsockname()[1]
        keep_fd = server._listener.fileno()
    elif server.mode == 'lease':
        from . import allocator
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
        error = _try_connect(server.host, server.port,
                             max(min(remaining, _LONGEST_ATTEMPT), 0.01), platform,
                             'start_server_process')
        state['last'] = error
        return error is None

    done = _poll(ready, timeout, _compat.monotonic, time.sleep)
    if server.mode == 'discover':
        goal = 'listened on a TCP port'
        if server.port is not None:
            goal = 'accepted a connection at %s' % _format_address(server.host, server.port)
        elif state['listeners']:
            goal += ' at %s (it listens on %s only)' % (server.host, ', '.join(
                _format_address(h, p) for h, p in state['listeners']))
    else:
        goal = 'accepted a connection at %s' % _format_address(server.host, server.port)
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
