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
import threading
import time

from . import (
    _compat,
    _port_tables,
    _sockets,
    _tempdirs,
    _waits,
    platform_shim,
    socket_helper,
    support,
)

__all__ = [
    'DEFAULT_POLL_INTERVAL',
    'ServerStopError',
    'ServerThread',
    'WaitTimeoutError',
    'make_listener',
    'make_udp_socket',
    'make_unix_socket_dir',
    'port_in_use',
    'remove_unix_socket_dir',
    'start_server_thread',
    'unix_socket_path',
    'wait_for_port',
    'wait_for_port_free',
]

#: How often (seconds) a served ``serve_forever()`` loop checks for shutdown.
DEFAULT_POLL_INTERVAL = 0.05

#: The file name :func:`unix_socket_path` uses inside its fresh directory.
_UNIX_SOCKET_NAME = 'test.sock'

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
    _tempdirs.remove_tree_quietly(directory)


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
        error = _waits.try_connect(host, port, max(min(remaining, _waits.LONGEST_ATTEMPT), 0.01),
                                   platform, 'wait_for_port')
        last[:] = [error]
        return error is None

    if not _waits.poll(accepted, timeout, clock, sleep):
        raise WaitTimeoutError(
            'wait_for_port(): nothing accepted TCP connections at %s within %.1f s '
            '(last attempt: %s); check that the server started, listens on that host '
            'and port, and did not exit (look at its output)'
            % (_format_address(host, port), timeout, _waits.describe_error(last[0] if last else None)))


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
        error = _waits.try_connect(host, port, max(min(remaining, _waits.LONGEST_ATTEMPT), 0.01),
                                   platform, 'wait_for_port_free')
        return error is not None and not isinstance(error, _compat.TIMEOUT_ERRORS)

    if not _waits.poll(refused, timeout, clock, sleep):
        raise WaitTimeoutError(
            'wait_for_port_free(): something still accepts TCP connections at %s after '
            '%.1f s; stop the server (close its listening socket, or end its process) '
            'before waiting for the port to be free' % (_format_address(host, port), timeout))


def port_in_use(port, host=socket_helper.HOST, family=socket.AF_INET, socktype=socket.SOCK_STREAM):
    """Return ``(in_use, reason)``: whether (*host*, *port*) is taken, found without connecting.

    "Taken" means a ``bind()`` of a *family*/*socktype* socket without
    SO_REUSEADDR would fail. Nothing connects to the port, so a listener's
    accept queue is left alone. Where the platform lists its sockets
    (``_port_tables.port_state()``: Linux' ``/proc/net``) the
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
