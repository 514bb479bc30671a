"""Tests for testsupport.servers: listeners, unix paths, server threads, waits."""
from __future__ import absolute_import, division, print_function

import importlib
import os
import socket
import stat
import threading
import unittest

from testsupport import _compat, platform_shim, servers, socket_helper, support
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
        self.assertIn('wait_for_port(): timeout must be >= 0 seconds, got -1', str(cm.exception))
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
        self.assertEqual(reason, 'nothing is bound to 127.0.0.1:%d (TCP): a test bind() '
                                 'succeeded' % port)

    def test_listening_port(self):
        port = self.close_later(servers.make_listener()).getsockname()[1]
        in_use, reason = servers.port_in_use(port)
        self.assertTrue(in_use)
        self.assertIn('bind() to 127.0.0.1:%d (TCP) failed: ' % port, reason)
        self.assertIn('Address already in use; something is listening there', reason)

    def test_bound_not_listening_port(self):
        port = self.bound_not_listening()
        in_use, reason = servers.port_in_use(port)
        self.assertTrue(in_use)
        self.assertIn('; nothing accepts connections there, so a socket is bound without '
                      'listening, or closed connections are in TIME_WAIT', reason)

    def test_udp_port(self):
        port = self.close_later(servers.make_udp_socket()).getsockname()[1]
        in_use, reason = servers.port_in_use(port, socktype=socket.SOCK_DGRAM)
        self.assertTrue(in_use)
        self.assertIn('bind() to 127.0.0.1:%d (UDP) failed: ' % port, reason)
        self.assertTrue(reason.endswith('Address already in use'), reason)

    @unittest.skipUnless(socket_helper.IPV6_ENABLED, 'requires IPv6')
    def test_ipv6_address_is_bracketed(self):
        sock = self.close_later(servers.make_listener(socket.AF_INET6))
        port = sock.getsockname()[1]
        in_use, reason = servers.port_in_use(port, socket_helper.HOSTv6, socket.AF_INET6)
        self.assertTrue(in_use)
        self.assertIn('bind() to [::1]:%d (TCP) failed' % port, reason)

    def test_windows_errno_means_in_use(self):
        fake = FakeSocket(socket.AF_INET, socket.SOCK_DGRAM, bind_error=FakeSocketError(10048))
        in_use, reason = servers._port_in_use(4000, '127.0.0.1', socket.AF_INET,
                                              socket.SOCK_DGRAM, platform_shim.WINDOWS,
                                              lambda family, socktype: fake)
        self.assertTrue(in_use)
        self.assertIn('bind() to 127.0.0.1:4000 (UDP) failed: ', reason)
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
