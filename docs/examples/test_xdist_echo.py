import socket


def test_echo_on_a_leased_port(unused_tcp_port):
    server = socket.socket()
    server.bind(('127.0.0.1', unused_tcp_port))     # no other worker has this port
    server.listen(1)
    client = socket.create_connection(('127.0.0.1', unused_tcp_port), 10)
    conn, _ = server.accept()
    client.sendall(b'ping')
    assert conn.recv(4) == b'ping'
    for sock in (conn, client, server):
        sock.close()
