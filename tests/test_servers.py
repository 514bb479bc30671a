"""Tests for testsupport.servers: listeners, unix paths, server threads, waits."""
from __future__ import absolute_import, division, print_function

import errno
import importlib
import os
import select
import socket
import stat
import threading
import unittest

from testsupport import _compat, _port_tables, platform_shim, servers, socket_helper, support
from tests.fakes import FakeClock, FakeSocket, FakeSocketError
from tests.helpers import EchoHandler, fd_count, is_closed

socketserver = importlib.import_module(_compat.socketserver_name)
http_server = importlib.import_module(_compat.http_server_name)


class ServersTestCase(unittest.TestCase):
    def setUp(self):
        self.fds = fd_count()
        self.addCleanup(self.assert_no_fd_leak)

    def assert_no_fd_leak(self):
        self.assertEqual(fd_count(), self.fds)

    def close_later(self, sock):
        self.addCleanup(sock.close)
        return sock

    def bound_not_listening(self):
        """A TCP port we hold, so connections to it are refused and nobody can take it."""
        sock = self.close_later(socket.socket())
        return socket_helper.bind_port(sock)


class MakeListenerTest(ServersTestCase):
    def test_default_accepts_connections_on_host(self):
        sock = self.close_later(servers.make_listener())
        host, port = sock.getsockname()
        self.assertEqual(host, socket_helper.HOST)
        client = self.close_later(socket.create_connection((host, port), support.LOOPBACK_TIMEOUT))
        conn, _ = sock.accept()
        conn.close()
        self.assertEqual(client.getpeername(), (host, port))

    @unittest.skipUnless(socket_helper.IPV6_ENABLED, 'requires IPv6')
    def test_ipv6_binds_hostv6(self):
        sock = self.close_later(servers.make_listener(socket.AF_INET6))
        self.assertEqual(sock.getsockname()[0], socket_helper.HOSTv6)

    def test_unix_family_raises_and_closes(self):
        with self.assertRaises(ValueError) as cm:
            servers.make_listener(socket.AF_UNIX)
        self.assertIn('AF_UNIX has no ports', str(cm.exception))

    def test_udp_socket_is_bound(self):
        sock = self.close_later(servers.make_udp_socket())
        self.assertEqual(platform_shim.current().socket_type(sock), socket.SOCK_DGRAM)
        self.assertNotEqual(sock.getsockname()[1], 0)


class UnixSocketPathTest(ServersTestCase):
    def test_path_is_short_and_private(self):
        path, directory = servers.unix_socket_path()
        self.addCleanup(servers.remove_unix_socket_dir, directory)
        self.assertEqual(os.path.dirname(path), directory)
        self.assertFalse(os.path.exists(path))
        self.assertEqual(stat.S_IMODE(os.stat(directory).st_mode), 0o700)
        self.assertLess(len(path), platform_shim.current().sun_path_max)

    def test_remove_takes_socket_file_and_directory(self):
        path, directory = servers.unix_socket_path()
        self.addCleanup(servers.remove_unix_socket_dir, directory)
        sock = self.close_later(socket.socket(socket.AF_UNIX))
        socket_helper.bind_unix_socket(sock, path)
        self.assertTrue(os.path.exists(path))
        servers.remove_unix_socket_dir(directory)
        self.assertFalse(os.path.exists(directory))
        servers.remove_unix_socket_dir(directory)  # already gone: fine


class ServerThreadTest(ServersTestCase):
    def setUp(self):
        super(ServerThreadTest, self).setUp()
        self.threads = set(threading.enumerate())
        self.addCleanup(self.assert_no_new_threads)

    def assert_no_new_threads(self):
        self.assertEqual(set(threading.enumerate()), self.threads)

    def test_serves_then_stops(self):
        server = socketserver.TCPServer((socket_helper.HOST, 0), EchoHandler)
        served = servers.start_server_thread(server)
        self.assertEqual(served.address, server.server_address[:2])
        host, port = served  # unpacks like the mixin's (host, port)
        self.assertEqual((host, port), served.address)
        self.assertTrue(served.thread.daemon)
        client = self.close_later(socket.create_connection(served.address,
                                                           support.LOOPBACK_TIMEOUT))
        client.sendall(b'ping')
        self.assertEqual(client.recv(1024), b'ping')
        served.stop()
        self.assertFalse(served.thread.is_alive())
        self.assertTrue(is_closed(server.socket))
        served.stop()  # a second call does nothing

    def test_http_server(self):
        class Quiet(http_server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

        server = http_server.HTTPServer((socket_helper.HOST, 0), Quiet)
        served = servers.start_server_thread(server)
        self.addCleanup(served.stop)
        client = self.close_later(socket.create_connection(served.address,
                                                           support.LOOPBACK_TIMEOUT))
        client.sendall(b'GET / HTTP/1.0\r\n\r\n')
        response = []  # read to EOF: closing early makes the handler's last write fail
        while not response or response[-1]:
            response.append(client.recv(1024))
        self.assertTrue(b''.join(response).startswith(b'HTTP/1.0 501'))

    def test_not_a_server_raises(self):
        with self.assertRaises(TypeError) as cm:
            servers.start_server_thread(object())
        self.assertIn('start_server_thread() expects a %s.BaseServer (TCPServer, HTTPServer, '
                      '...), got object' % _compat.socketserver_name, str(cm.exception))

    def test_blocked_handler_raises_after_timeout(self):
        entered = threading.Event()

        class Stuck(socketserver.BaseRequestHandler):
            def handle(self):
                entered.set()
                self.request.recv(1)  # until the client closes

        server = socketserver.TCPServer((socket_helper.HOST, 0), Stuck)
        served = servers.start_server_thread(server)
        # Registered before the client's close, so they run after it: the handler
        # returns once the client is closed, then both threads end.
        self.addCleanup(served.thread.join, support.SHORT_TIMEOUT)
        self.addCleanup(lambda: served._stopper.join(support.SHORT_TIMEOUT))
        client = self.close_later(socket.create_connection(served.address,
                                                           support.LOOPBACK_TIMEOUT))
        self.assertTrue(entered.wait(support.SHORT_TIMEOUT))
        with self.assertRaises(servers.ServerStopError) as cm:
            served.stop(timeout=0.1)
        self.assertIn('the TCPServer serving %s:%d did not stop within 0.1 s of shutdown(); '
                      'a request handler is probably blocked (e.g. reading from a client '
                      'that never sends): give client sockets a timeout and close them '
                      'before the test ends' % served.address, str(cm.exception))
        self.assertTrue(is_closed(server.socket))
        client.close()

    def test_serve_forever_raising_is_reported(self):
        release = threading.Event()

        class Broken(socketserver.TCPServer):
            def serve_forever(self, poll_interval=0.5):
                release.wait(support.SHORT_TIMEOUT)
                raise RuntimeError('boom')

            def shutdown(self):
                release.set()
                socketserver.TCPServer.shutdown(self)

        server = Broken((socket_helper.HOST, 0), EchoHandler)
        served = servers.start_server_thread(server)
        with self.assertRaises(servers.ServerStopError) as cm:
            served.stop()
        self.assertIn('serve_forever() of the Broken serving %s:%d raised RuntimeError: boom'
                      % served.address, str(cm.exception))
        self.assertTrue(is_closed(server.socket))


class WaitForPortTest(ServersTestCase):
    def test_listening_port_returns_at_once(self):
        listener = self.close_later(servers.make_listener())
        clock = FakeClock()
        servers._wait_for_port(listener.getsockname()[1], socket_helper.HOST, None,
                               platform_shim.current(), clock, clock.sleep)
        self.assertEqual(clock.pauses, [])

    def test_backs_off_until_listening(self):
        sock = self.close_later(socket.socket())
        port = socket_helper.bind_port(sock)

        def listen_on_third(count):
            if count == 3:
                sock.listen(5)

        clock = FakeClock(on_sleep=listen_on_third)
        servers._wait_for_port(port, socket_helper.HOST, None, platform_shim.current(),
                               clock, clock.sleep)
        self.assertEqual(clock.pauses, [0.005, 0.01, 0.02])

    def test_timeout_message(self):
        port = self.bound_not_listening()
        clock = FakeClock()
        with self.assertRaises(servers.WaitTimeoutError) as cm:
            servers._wait_for_port(port, socket_helper.HOST, 2, platform_shim.current(),
                                   clock, clock.sleep)
        self.assertIn('wait_for_port(): nothing accepted TCP connections at 127.0.0.1:%d '
                      'within 2.0 s (last attempt: ' % port, str(cm.exception))
        self.assertIn('Connection refused); check that the server started, listens on that '
                      'host and port, and did not exit (look at its output)', str(cm.exception))
        self.assertEqual(max(clock.pauses), 0.25)
        self.assertAlmostEqual(sum(clock.pauses), 2.0)

    def test_public_function_times_out(self):
        port = self.bound_not_listening()
        with self.assertRaises(servers.WaitTimeoutError):
            servers.wait_for_port(port, timeout=0)

    def test_error_is_a_timeout_error(self):
        self.assertTrue(issubclass(servers.WaitTimeoutError, OSError))
        self.assertTrue(issubclass(servers.WaitTimeoutError, _compat.TimeoutErrorBase))

    def test_bad_port_raises(self):
        for port, error, text in [
                (0, ValueError, 'wait_for_port(): port must be in 1..65535, got 0; pass the '
                                'number a server is bound to'),
                (65536, ValueError, 'got 65536'),
                ('80', TypeError, "wait_for_port(): port must be an int in 1..65535, got str"),
                (True, TypeError, 'got bool True')]:
            with self.assertRaises(error) as cm:
                servers.wait_for_port(port)
            self.assertIn(text, str(cm.exception))

    def test_bad_timeout_raises(self):
        with self.assertRaises(ValueError) as cm:
            servers.wait_for_port(80, timeout=-1)
        self.assertIn('wait_for_port(): timeout must be a finite number of seconds >= 0, got -1',
                      str(cm.exception))
        with self.assertRaises(TypeError) as cm:
            servers.wait_for_port(80, timeout='1')
        self.assertIn('timeout must be a number of seconds or None, got str', str(cm.exception))

    def test_unresolvable_host_raises_at_once(self):
        clock = FakeClock()
        with self.assertRaises(socket.gaierror):
            servers._wait_for_port(80, 'no-such-host.invalid', 5, platform_shim.current(),
                                   clock, clock.sleep)
        self.assertEqual(clock.pauses, [])


class WaitForPortFreeTest(ServersTestCase):
    def test_refused_port_returns_at_once(self):
        port = self.bound_not_listening()
        clock = FakeClock()
        servers._wait_for_port_free(port, socket_helper.HOST, None, platform_shim.current(),
                                    clock, clock.sleep)
        self.assertEqual(clock.pauses, [])

    def test_returns_once_listener_closed(self):
        listener = self.close_later(servers.make_listener(backlog=16))

        def close_on_second(count):
            if count == 2:
                listener.close()

        clock = FakeClock(on_sleep=close_on_second)
        servers._wait_for_port_free(listener.getsockname()[1], socket_helper.HOST, None,
                                    platform_shim.current(), clock, clock.sleep)
        self.assertEqual(clock.pauses, [0.005, 0.01])

    def test_timeout_message(self):
        listener = self.close_later(servers.make_listener(backlog=64))
        port = listener.getsockname()[1]
        clock = FakeClock()
        with self.assertRaises(servers.WaitTimeoutError) as cm:
            servers._wait_for_port_free(port, socket_helper.HOST, 1, platform_shim.current(),
                                        clock, clock.sleep)
        self.assertIn('wait_for_port_free(): something still accepts TCP connections at '
                      '127.0.0.1:%d after 1.0 s; stop the server (close its listening socket, '
                      'or end its process) before waiting for the port to be free' % port,
                      str(cm.exception))

    def test_bad_port_raises(self):
        with self.assertRaises(ValueError) as cm:
            servers.wait_for_port_free(-1)
        self.assertIn('wait_for_port_free(): port must be in 1..65535, got -1', str(cm.exception))


class PortInUseTest(ServersTestCase):
    def test_free_port(self):
        port = socket_helper.find_unused_port()
        in_use, reason = servers.port_in_use(port)
        self.assertFalse(in_use)
        self.assertIn('port %d on 127.0.0.1 (TCP) is free: ' % port, reason)

    def test_listening_port(self):
        port = self.close_later(servers.make_listener()).getsockname()[1]
        in_use, reason = servers.port_in_use(port)
        self.assertTrue(in_use)
        self.assertIn('port %d on 127.0.0.1 (TCP) is in use: ' % port, reason)

    def test_bound_not_listening_port(self):
        port = self.bound_not_listening()
        in_use, reason = servers.port_in_use(port)
        self.assertTrue(in_use)
        self.assertIn('port %d on 127.0.0.1 (TCP) is in use: bind() failed: ' % port, reason)

    def test_udp_port(self):
        port = self.close_later(servers.make_udp_socket()).getsockname()[1]
        in_use, reason = servers.port_in_use(port, socktype=socket.SOCK_DGRAM)
        self.assertTrue(in_use)
        self.assertIn('port %d on 127.0.0.1 (UDP) is in use: ' % port, reason)

    @unittest.skipUnless(socket_helper.IPV6_ENABLED, 'requires IPv6')
    def test_ipv6_address(self):
        sock = self.close_later(servers.make_listener(socket.AF_INET6))
        port = sock.getsockname()[1]
        in_use, reason = servers.port_in_use(port, socket_helper.HOSTv6, socket.AF_INET6)
        self.assertTrue(in_use)
        self.assertIn('port %d on ::1 (TCP) is in use: ' % port, reason)

    def test_windows_errno_means_in_use(self):
        fake = FakeSocket(socket.AF_INET, socket.SOCK_DGRAM, bind_error=FakeSocketError(10048))
        in_use, reason = servers._port_in_use(4000, '127.0.0.1', socket.AF_INET,
                                              socket.SOCK_DGRAM, platform_shim.WINDOWS,
                                              lambda family, socktype: fake)
        self.assertTrue(in_use)
        self.assertIn('port 4000 on 127.0.0.1 (UDP) is in use: bind() failed: ', reason)
        self.assertEqual(fake.calls, [('bind', ('127.0.0.1', 4000)), ('close',)])

    def test_other_bind_error_propagates_after_close(self):
        fake = FakeSocket(bind_error=FakeSocketError(10049))  # WSAEADDRNOTAVAIL
        with self.assertRaises(socket.error):
            servers._port_in_use(4000, '127.0.0.1', socket.AF_INET, socket.SOCK_STREAM,
                                 platform_shim.WINDOWS, lambda family, socktype: fake)
        self.assertEqual(fake.calls[-1], ('close',))

    def test_non_local_host_propagates(self):
        with self.assertRaises(socket.error):
            servers.port_in_use(4000, '192.0.2.1')  # TEST-NET-1: never a local address


def listener_is_readable(listener):
    """True if *listener* has a connection waiting in its accept queue."""
    return bool(select.select([listener], [], [], 0)[0])


class PortInUseNeverConnectsTest(ServersTestCase):
    """port_in_use() observes a listener without adding to its accept queue."""

    def test_listener_accept_queue_stays_empty(self):
        listener = self.close_later(servers.make_listener())
        listener.setblocking(False)
        in_use, _ = servers.port_in_use(listener.getsockname()[1])
        self.assertTrue(in_use)
        self.assertFalse(listener_is_readable(listener))
        with self.assertRaises(socket.error) as cm:
            listener.accept()
        self.assertIn(cm.exception.errno, (errno.EAGAIN, errno.EWOULDBLOCK))

    def test_bind_probe_without_a_port_table_leaves_queue_empty(self):
        # This kernel's errnos, but no port table (as on macOS): the real bind() probe
        # runs against the real listener.
        listener = self.close_later(servers.make_listener())
        port = listener.getsockname()[1]
        no_table = platform_shim.current().replace(port_table=None)
        in_use, reason = servers._port_in_use(port, '127.0.0.1', socket.AF_INET,
                                              socket.SOCK_STREAM, no_table, socket.socket)
        self.assertTrue(in_use)
        self.assertIn('port %d on 127.0.0.1 (TCP) is in use: bind() failed: ' % port, reason)
        self.assertFalse(listener_is_readable(listener))


class SocketMaker(object):
    """A make_socket for _port_in_use: hands out one FakeSocket, counts the calls."""

    def __init__(self, bind_error=None):
        self.made = []
        self.bind_error = bind_error

    def __call__(self, family, socktype):
        sock = FakeSocket(family, socktype, bind_error=self.bind_error)
        self.made.append(sock)
        return sock


def proc_net(lines, name='tcp'):
    """A read_file that serves *lines* (after a header) as /proc/net/<name>."""
    header = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt'
    tables = {'/proc/net/' + name: '\n'.join([header] + list(lines)) + '\n',
              '/proc/net/' + name + '6': header + '\n'}
    return tables.get


_ROW = '   0: %s:9C4B 00000000:0000 %s 00000000:00000000 00:00000000 00000000  1000  0 1 1 0'


class PortInUseTableTest(ServersTestCase):
    """_port_in_use() on the LINUX description with sample /proc/net tables."""

    def port_in_use(self, lines, maker, socktype=socket.SOCK_STREAM, name='tcp'):
        return servers._port_in_use(40011, '127.0.0.1', socket.AF_INET, socktype,
                                    platform_shim.LINUX, maker, proc_net(lines, name))

    def test_listening_is_read_from_the_table_without_a_socket(self):
        maker = SocketMaker()
        self.assertEqual(self.port_in_use([_ROW % ('0100007F', '0A')], maker), (
            True, 'port 40011 on 127.0.0.1 (TCP) is in use: a socket is listening on it '
                  '(LISTEN in /proc/net/tcp)'))
        self.assertEqual(maker.made, [])

    def test_wildcard_address_is_named(self):
        self.assertEqual(self.port_in_use([_ROW % ('00000000', '0A')], SocketMaker())[1],
                         'port 40011 on 127.0.0.1 (TCP) is in use: a socket is listening on '
                         'it (LISTEN on 0.0.0.0 in /proc/net/tcp)')

    def test_time_wait(self):
        self.assertEqual(self.port_in_use([_ROW % ('0100007F', '06')], SocketMaker())[1],
                         'port 40011 on 127.0.0.1 (TCP) is in use: a closed connection '
                         'lingers on it (TIME_WAIT in /proc/net/tcp); bind() without '
                         'SO_REUSEADDR fails until it expires (about a minute)')

    def test_connection(self):
        self.assertEqual(self.port_in_use([_ROW % ('0100007F', '01')], SocketMaker())[1],
                         'port 40011 on 127.0.0.1 (TCP) is in use: a connection uses it as '
                         'its local port (ESTABLISHED in /proc/net/tcp)')

    def test_udp_bound(self):
        self.assertEqual(self.port_in_use([_ROW % ('0100007F', '07')], SocketMaker(),
                                          socket.SOCK_DGRAM, 'udp')[1],
                         'port 40011 on 127.0.0.1 (UDP) is in use: a socket is bound to it '
                         '(UNCONN in /proc/net/udp)')

    def test_empty_table_and_bind_works_is_free(self):
        maker = SocketMaker()
        self.assertEqual(self.port_in_use([_ROW % ('0200007F', '0A')], maker), (
            False, 'port 40011 on 127.0.0.1 (TCP) is free: nothing listens on it and it can '
                   'be bound'))
        self.assertEqual(maker.made[0].calls, [('bind', ('127.0.0.1', 40011)), ('close',)])
        self.assertEqual(self.port_in_use([], SocketMaker(), socket.SOCK_DGRAM, 'udp')[1],
                         'port 40011 on 127.0.0.1 (UDP) is free: no socket is bound to it and '
                         'it can be bound')

    def test_empty_table_and_bind_fails(self):
        maker = SocketMaker(FakeSocketError(98, 'Address already in use'))
        self.assertEqual(self.port_in_use([], maker), (
            True, 'port 40011 on 127.0.0.1 (TCP) is in use: bind() failed: [Errno 98] '
                  'Address already in use; /proc/net/tcp and /proc/net/tcp6 list no socket '
                  'on this address, so a socket is bound to it without listening (the table '
                  'omits those), or a socket on an address that covers it holds it (e.g. an '
                  'IPv6 socket on [::] also takes IPv4)'))
        self.assertEqual(maker.made[0].calls[-1], ('close',))
        udp = SocketMaker(FakeSocketError(98, 'Address already in use'))
        self.assertEqual(self.port_in_use([], udp, socket.SOCK_DGRAM, 'udp')[1],
                         'port 40011 on 127.0.0.1 (UDP) is in use: bind() failed: [Errno 98] '
                         'Address already in use; /proc/net/udp and /proc/net/udp6 list no '
                         'socket on this address, so a socket on an address that covers it '
                         'holds it (e.g. an IPv6 socket on [::] also takes IPv4)')


class PortInUseWithoutTableTest(ServersTestCase):
    """A platform without a port table (MACOS) falls back to the bind() probe alone."""

    def port_in_use(self, maker):
        def read_file(path):
            self.fail('read %s on a platform without a port table' % path)
        return servers._port_in_use(40011, '127.0.0.1', socket.AF_INET, socket.SOCK_STREAM,
                                    platform_shim.MACOS, maker, read_file)

    def test_bind_works_is_free(self):
        maker = SocketMaker()
        self.assertEqual(self.port_in_use(maker), (
            False, 'port 40011 on 127.0.0.1 (TCP) is free: a test bind() succeeded'))
        self.assertEqual(maker.made[0].calls, [('bind', ('127.0.0.1', 40011)), ('close',)])

    def test_bind_fails_says_only_that(self):
        maker = SocketMaker(FakeSocketError(48, 'Address already in use'))  # BSD EADDRINUSE
        self.assertEqual(self.port_in_use(maker), (
            True, 'port 40011 on 127.0.0.1 (TCP) is in use: bind() failed: [Errno 48] '
                  'Address already in use'))
        self.assertEqual(maker.made[0].calls[-1], ('close',))


@unittest.skipUnless(platform_shim.current().port_table == 'procfs',
                     'reads the real /proc/net tables (Linux)')
class PortInUseRealProcfsTest(ServersTestCase):
    """port_in_use() against the running kernel's tables: the messages users see."""

    def test_listening(self):
        port = self.close_later(servers.make_listener()).getsockname()[1]
        self.assertEqual(servers.port_in_use(port), (
            True, 'port %d on 127.0.0.1 (TCP) is in use: a socket is listening on it '
                  '(LISTEN in /proc/net/tcp)' % port))

    def test_free(self):
        port = socket_helper.find_unused_port()
        self.assertEqual(servers.port_in_use(port), (
            False, 'port %d on 127.0.0.1 (TCP) is free: nothing listens on it and it can be '
                   'bound' % port))

    def test_bound_not_listening(self):
        port = self.bound_not_listening()
        in_use, reason = servers.port_in_use(port)
        self.assertTrue(in_use)
        self.assertIn('/proc/net/tcp and /proc/net/tcp6 list no socket on this address, so a '
                      'socket is bound to it without listening', reason)

    def test_udp(self):
        port = self.close_later(servers.make_udp_socket()).getsockname()[1]
        self.assertEqual(servers.port_in_use(port, socktype=socket.SOCK_DGRAM), (
            True, 'port %d on 127.0.0.1 (UDP) is in use: a socket is bound to it '
                  '(UNCONN in /proc/net/udp)' % port))

    def test_time_wait(self):
        listener = self.close_later(servers.make_listener())
        client = self.close_later(socket.create_connection(listener.getsockname(),
                                                           support.LOOPBACK_TIMEOUT))
        conn = self.close_later(listener.accept()[0])
        port = client.getsockname()[1]
        client.close()  # the side that closes first ends in TIME_WAIT
        conn.settimeout(support.LOOPBACK_TIMEOUT)
        self.assertEqual(conn.recv(1), b'')  # the client's FIN has arrived
        conn.close()
        deadline = _compat.monotonic() + support.LOOPBACK_TIMEOUT
        while _compat.monotonic() < deadline:  # the final ACK is the kernel's, not ours
            state = _port_tables.port_state(platform_shim.current(), port, '127.0.0.1',
                                             socket.AF_INET, socket.SOCK_STREAM)
            if state.state == 'time_wait':
                break
        self.assertEqual(servers.port_in_use(port), (
            True, 'port %d on 127.0.0.1 (TCP) is in use: a closed connection lingers on it '
                  '(TIME_WAIT in /proc/net/tcp); bind() without SO_REUSEADDR fails until it '
                  'expires (about a minute)' % port))
        probe = self.close_later(socket.socket())
        with self.assertRaises(socket.error) as cm:  # what "in use" promises
            probe.bind(('127.0.0.1', port))
        self.assertEqual(cm.exception.errno, errno.EADDRINUSE)
