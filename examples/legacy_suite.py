"""A legacy-style test module using SocketTestMixin (runs on Python 2.7 and 3.6+).

Run it with ``python -m unittest legacy_suite`` from this directory (with
testsupport installed or on PYTHONPATH). Everything the tests create, servers,
sockets and socket files, is released by the mixin, whatever the outcome.
"""
from __future__ import absolute_import, division, print_function

import socket
import unittest

try:  # Python 3
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from socketserver import StreamRequestHandler, TCPServer
    from urllib.request import urlopen
except ImportError:  # Python 2.7
    from BaseHTTPServer import BaseHTTPRequestHandler, HTTPServer
    from SocketServer import StreamRequestHandler, TCPServer
    from urllib2 import urlopen

from testsupport.mixin import SocketTestMixin

TIMEOUT = 10.0


class HelloHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = ('hello from %s' % self.path).encode('ascii')
        self.send_response(200)
        self.send_header('Content-Type', 'text/plain')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass  # keep the test output clean


class LineEchoHandler(StreamRequestHandler):
    def handle(self):
        self.wfile.write(self.rfile.readline().upper())


class HTTPClientTest(SocketTestMixin, unittest.TestCase):
    def setUp(self):
        # Anything made here is cleaned up even if setUp fails later on.
        server = HTTPServer(('127.0.0.1', 0), HelloHandler)
        self.host, self.port = self.start_server_thread(server)

    def test_get(self):
        response = urlopen('http://%s:%d/status' % (self.host, self.port), timeout=TIMEOUT)
        try:
            self.assertEqual(response.read(), b'hello from /status')
        finally:
            response.close()

    def test_port_is_taken_while_serving(self):
        self.wait_for_port(self.port)
        self.assertPortInUse(self.port)


class UnixEchoTest(SocketTestMixin, unittest.TestCase):
    def test_echo_over_unix_socket(self):
        self.skip_unless_bind_unix_socket()
        server = self.make_socket(socket.AF_UNIX)
        path = self.bind_unix_socket(server)
        server.listen(1)
        client = self.make_socket(socket.AF_UNIX)
        client.settimeout(TIMEOUT)
        client.connect(path)
        conn, _ = server.accept()
        self.addCleanup(conn.close)
        client.sendall(b'ping')
        self.assertEqual(conn.recv(4), b'ping')


class IPv6EchoTest(SocketTestMixin, unittest.TestCase):
    def setUp(self):
        self.skip_unless_ipv6()  # skips cleanly where IPv6 is off

    def test_line_echo_over_ipv6(self):
        class IPv6Server(TCPServer):
            address_family = socket.AF_INET6

        host, port = self.start_server_thread(IPv6Server(('::1', 0), LineEchoHandler))
        client = self.make_socket(socket.AF_INET6)
        client.settimeout(TIMEOUT)
        client.connect((host, port))
        client.sendall(b'shout\n')
        self.assertEqual(client.recv(100), b'SHOUT\n')

    def test_udp_listener_v6(self):
        receiver = self.make_udp_socket(socket.AF_INET6)
        sender = self.make_socket(socket.AF_INET6, socket.SOCK_DGRAM)
        sender.sendto(b'x', receiver.getsockname())
        receiver.settimeout(TIMEOUT)
        self.assertEqual(receiver.recv(1), b'x')


if __name__ == '__main__':
    unittest.main()
