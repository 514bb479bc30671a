"""A small typed use of testsupport, checked with ``mypy --strict`` (Python 3).

Run it as a script to see it work: ``python examples/typed_usage.py``.
"""
from __future__ import annotations

import contextlib
import os
import socket
import socketserver
import unittest

from testsupport import HOST, bind_port, find_unused_port, requires
from testsupport.allocator import reserved_port
from testsupport.mixin import SocketTestMixin
from testsupport.servers import ServerThread, make_listener, start_server_thread, wait_for_port


class Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.sendall(self.request.recv(100))


def round_trip(address: tuple[str, int], payload: bytes) -> bytes:
    client = socket.create_connection(address, 10)
    with contextlib.closing(client):
        client.sendall(payload)
        reply: bytes = client.recv(100)
    return reply


def serve_once() -> bytes:
    served: ServerThread = start_server_thread(socketserver.TCPServer((HOST, 0), Echo))
    try:
        wait_for_port(served.address[1], served.address[0], timeout=10.0)
        return round_trip(served.address, b'typed')
    finally:
        served.stop()


def free_ports() -> list[int]:
    sock = socket.socket()
    with contextlib.closing(sock):
        bound: int = bind_port(sock)
    with reserved_port() as leased:
        return [bound, leased, find_unused_port(socket.AF_INET, socket.SOCK_DGRAM)]


class EchoTest(SocketTestMixin, unittest.TestCase):
    def test_echo(self) -> None:
        address = self.start_server_thread(socketserver.TCPServer((HOST, 0), Echo))
        self.assertEqual(round_trip(address, b'hi'), b'hi')

    def test_listener(self) -> None:
        listener = make_listener()
        self.addCleanup(listener.close)
        self.assertPortInUse(listener.getsockname()[1])

    def test_unix_socket(self) -> None:
        self.skip_unless_bind_unix_socket()
        s = self.make_socket(socket.AF_UNIX)
        path: str = self.bind_unix_socket(s)
        self.assertTrue(os.path.exists(path))

    def test_network(self) -> None:
        requires('network')


if __name__ == '__main__':
    print(serve_once(), free_ports())
    unittest.main()
