"""SocketTestMixin: testsupport's socket helpers as TestCase methods, cleaned up for you.

Use it before the TestCase base class::

    class EchoTest(SocketTestMixin, unittest.TestCase):
        def test_echo(self):
            listener = self.make_listener()
            ...

Every method that creates something registers its release with
``self.addCleanup`` right away, so it is released whether the test passes,
fails, errors or skips, when ``setUp`` raises after creating it, and when a
subclass overrides ``setUp``/``tearDown`` without calling ``super()``. Cleanups
run in reverse order of creation. The mixin defines no ``setUp``, ``tearDown``
or ``__init__``, and works with any TestCase that has ``addCleanup`` (unittest,
``IsolatedAsyncioTestCase``, Twisted trial, Django). Each method is a thin
wrapper of :mod:`testsupport.socket_helper` or :mod:`testsupport.servers`.

.. versionadded:: 0.1.0
"""
from __future__ import absolute_import, division, print_function

import socket
import unittest

from . import _sockets, _system, platform_shim, server_process, servers, socket_helper, support

__all__ = ['SocketTestMixin']


class SocketTestMixin(object):
    """Socket helpers as methods of a TestCase; everything they create is cleaned up.

    Put it first in the bases: ``class T(SocketTestMixin, unittest.TestCase)``.
    """

    def find_unused_port(self, family=socket.AF_INET, socktype=socket.SOCK_STREAM):
        """Return a free port number (``socket_helper.find_unused_port``).

        Prefer :meth:`make_listener`/:meth:`bind_port`: another process can take
        the port before you bind it.
        """
        return socket_helper.find_unused_port(family, socktype)

    def bind_port(self, sock, host=None):
        """Bind *sock* to a free port and return it (``socket_helper.bind_port``).

        *host* None means ``HOST``, or ``HOSTv6`` for an AF_INET6 socket. *sock*
        stays the caller's to close (or came from :meth:`make_socket`).
        """
        if host is None:
            host = socket_helper.HOST  # bind_port maps HOST to HOSTv6 for AF_INET6
        return socket_helper.bind_port(sock, host)

    def make_socket(self, family=socket.AF_INET, type=socket.SOCK_STREAM, proto=0):
        """Return a new ``socket.socket(family, type, proto)``, closed at cleanup."""
        sock = socket.socket(family, type, proto)
        self.addCleanup(sock.close)
        return sock

    def make_listener(self, family=socket.AF_INET, host=None, backlog=5):
        """Return a TCP socket bound to a free port and listening; closed at cleanup.

        The port is ``sock.getsockname()[1]``. See :func:`servers.make_listener`.
        """
        sock = servers.make_listener(family, host, backlog)
        self.addCleanup(sock.close)
        return sock

    def make_udp_socket(self, family=socket.AF_INET, host=None):
        """Return a UDP socket bound to a free port; closed at cleanup."""
        sock = servers.make_udp_socket(family, host)
        self.addCleanup(sock.close)
        return sock

    def unix_socket_path(self):
        """Return a fresh, short AF_UNIX path in a new private (0700) directory.

        The file is not created; at cleanup the directory is removed together
        with the socket file bound there.
        """
        path, directory = servers.unix_socket_path()
        self.addCleanup(servers.remove_unix_socket_dir, directory)
        return path

    def bind_unix_socket(self, sock, addr=None):
        """Bind the AF_UNIX socket *sock* to *addr* and return *addr*.

        *addr* None means a fresh :meth:`unix_socket_path` (removed at cleanup
        with its directory); a path you pass is removed at cleanup once the bind
        has created it. Skips the test (``unittest.SkipTest``) where the
        platform or the filesystem refuses AF_UNIX binds, naming the error.
        """
        if addr is None:  # check first: a refused socket must not leave a directory behind
            _sockets.check_unix_socket('bind_unix_socket', sock, platform_shim.current())
            addr = self.unix_socket_path()
        socket_helper.bind_unix_socket(sock, addr)
        if addr[:1] not in (b'\0', '\0'):  # a Linux abstract name has no file to remove
            self.addCleanup(_system.remove_quietly, addr)
        return addr

    def start_server_thread(self, server):
        """Serve *server* (a socketserver/SocketServer server) in a daemon thread.

        Returns ``(host, port)``. At cleanup calls ``shutdown()`` and
        ``server_close()`` and joins the thread for at most
        ``support.SHORT_TIMEOUT`` seconds; the cleanup raises
        :class:`~testsupport.servers.ServerStopError` (a test error) if the thread
        does not stop or ``serve_forever()`` raised.
        """
        served = servers.start_server_thread(server)
        self.addCleanup(served.stop)
        return served.address

    def wait_for_port(self, port, host=None, timeout=None):
        """Return once something accepts TCP connections at (*host*, *port*).

        *host* None means ``HOST``; *timeout* defaults to ``support.SHORT_TIMEOUT``.
        It connects to find out (each try is a connection the server sees), so
        don't wait on a listener whose ``accept()`` the test checks itself.
        Fails the test (``self.failureException``) with the address, the timeout
        and the last error if nothing does by then.
        """
        message = None
        try:
            servers.wait_for_port(port, _sockets.loopback(socket.AF_INET, host),
                                  timeout)
        except servers.WaitTimeoutError as exc:
            message = str(exc)
        if message is not None:
            self.fail(message)

    def assertPortFree(self, port, host=None, family=socket.AF_INET,
                       socktype=socket.SOCK_STREAM, msg=None):
        """Fail unless a ``bind()`` to (*host*, *port*) without SO_REUSEADDR would work.

        Never connects to the port (``servers.port_in_use``); the message says
        what holds it: a listener, a connection, TIME_WAIT (where the platform
        can tell), or the ``bind()`` error.
        """
        host = _sockets.loopback(family, host)
        in_use, reason = servers.port_in_use(port, host, family, socktype)
        if in_use:
            self._fail_port(msg, reason)

    def assertPortInUse(self, port, host=None, family=socket.AF_INET,
                        socktype=socket.SOCK_STREAM, msg=None):
        """Fail unless (*host*, *port*) is taken: a ``bind()`` there would fail.

        Never connects to the port (``servers.port_in_use``), so a listener's
        accept queue is left as it was: the test's next ``accept()`` gets its
        own client.
        """
        host = _sockets.loopback(family, host)
        in_use, reason = servers.port_in_use(port, host, family, socktype)
        if not in_use:
            self._fail_port(msg, '%s; was the socket closed already, or bound to another '
                                 'host?' % reason)

    def _fail_port(self, msg, standard):
        self.fail(standard if msg is None else '%s : %s' % (standard, msg))

    def skip_unless_ipv6(self):
        """Skip the current test unless IPv6 works here (``socket_helper.IPV6_ENABLED``)."""
        if not socket_helper.IPV6_ENABLED:
            raise unittest.SkipTest('requires IPv6: this host cannot bind %s '
                                    '(socket_helper.IPV6_ENABLED is False)'
                                    % socket_helper.HOSTv6)

    def skip_unless_bind_unix_socket(self):
        """Skip the current test unless AF_UNIX sockets can be bound here."""
        if not socket_helper.can_bind_unix_socket():
            # "No UNIX Sockets" or "Requires a functional unix bind(): <error>"
            raise unittest.SkipTest(_sockets.unix_bind_problem(platform_shim.current()))

    def requires(self, resource, msg=None):
        """Skip the current test unless *resource* is enabled (``support.requires``).

        The skip (:class:`~testsupport.support.ResourceDenied`) says how to enable it.
        """
        support.requires(resource, msg)

    def start_server_process(self, argv, mode='inherit', host=None, family=socket.AF_INET,
                             env=None, cwd=None, timeout=None):
        """Start the server *argv* in a child process; stopped at cleanup.

        Returns the :class:`~testsupport.server_process.ServerProcess` (``host``,
        ``port``, ``process``, ``stdout``, ``stderr``); see
        :func:`server_process.start_server_process` for the modes (``'inherit'``,
        ``'discover'``, ``'lease'``). At cleanup the child's process group is
        terminated, killed if it has not exited within 5 s, and reaped. Fails
        the test (``self.failureException``) if the child exits or does not
        listen in time, with the tail of its stderr.
        """
        message = None
        try:
            server = server_process.start_server_process(argv, mode, host, family, env, cwd, timeout)
        except server_process.ServerStartError as exc:
            message = str(exc)
        if message is not None:
            self.fail(message)
        self.addCleanup(server.stop)
        return server
