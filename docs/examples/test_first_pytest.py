import socket

try:
    import socketserver
except ImportError:  # Python 2.7
    import SocketServer as socketserver

import pytest

from testsupport import support


def test_server(unused_tcp_port, start_server_thread):
    server = socketserver.TCPServer(('127.0.0.1', unused_tcp_port),
                                    socketserver.BaseRequestHandler)
    host, port = start_server_thread(server)    # stopped at teardown
    socket.create_connection((host, port), 10).close()


def test_two_ports(unused_tcp_port_factory):
    assert unused_tcp_port_factory() != unused_tcp_port_factory()


@pytest.mark.requires_ipv6                      # skips where ::1 cannot be bound
def test_v6(unused_tcp_port):
    server = socket.socket(socket.AF_INET6)
    server.bind(('::1', unused_tcp_port))
    server.close()


def test_fetch():
    support.requires('network')                 # run with --use=network
