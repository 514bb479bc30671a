"""A tiny TCP server run as a child process by the start_server_process tests.

Answers every connection with ``hello <pid>`` and closes it. Runs on 2.7 and 3.x.

    child_server.py --listen-fds          serve the socket systemd-style: fd 3,
                                          checking LISTEN_FDS=1 and LISTEN_PID
    child_server.py --port N [--host H]   bind (H, N) itself (N=0: any port)
    --ignore-term     ignore SIGTERM (only SIGKILL ends it)
    --exit-at-start   write to stderr and exit with status 3 before listening
    --never-listen    write to stderr, then wait for a signal without listening
    --in-grandchild   fork; the grandchild serves, this process waits for it
    --daemonize       double fork and setsid(): a daemon serves, this process exits 0
    --flood N         first write N bytes to stderr (a few large writes)
    --admin-port      after the first connection, also listen on a second port
                      (port 0), and print ``admin on port M``
    --tag T           ignored: lets a test find its processes by command line
    --delay S         wait S seconds before listening, then print ``listening at <time>``
                      (time.time(); for benchmarks of readiness latency)
"""
from __future__ import absolute_import, division, print_function

import os
import signal
import socket
import sys


def listen_fds_socket():
    if os.environ.get('LISTEN_FDS') != '1':
        sys.exit('child_server: LISTEN_FDS is %r, not "1"' % os.environ.get('LISTEN_FDS'))
    if os.environ.get('LISTEN_PID') != str(os.getpid()):
        sys.exit('child_server: LISTEN_PID is %r, not my pid %d'
                 % (os.environ.get('LISTEN_PID'), os.getpid()))
    sock = socket.fromfd(3, socket.AF_INET, socket.SOCK_STREAM)  # dups fd 3
    os.close(3)
    return sock


def serve(sock, admin=False):
    print('serving on port %d' % sock.getsockname()[1])
    sys.stdout.flush()
    while True:
        conn, _ = sock.accept()
        conn.sendall(('hello %d\n' % os.getpid()).encode('ascii'))
        conn.close()
        if admin:
            admin = False
            second = socket.socket(sock.family)
            second.bind((sock.getsockname()[0], 0))
            second.listen(4)
            print('admin on port %d' % second.getsockname()[1])
            sys.stdout.flush()


def flood(size):
    chunk = b'x' * 1023 + b'\n'
    block = chunk * (min(size, 16 << 20) // len(chunk))
    written = 0
    while written < size:
        written += os.write(2, block[:size - written] if size - written < len(block) else block)


def daemonize():
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)


def main(args):
    if '--ignore-term' in args:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if '--flood' in args:
        flood(int(args[args.index('--flood') + 1]))
    if '--exit-at-start' in args:
        sys.stderr.write('child_server: cannot start: configuration is missing\n')
        sys.exit(3)
    if '--never-listen' in args:
        sys.stderr.write('child_server: waiting for a database that never comes\n')
        sys.stderr.flush()
        while True:
            signal.pause()
    if '--in-grandchild' in args:
        pid = os.fork()
        if pid:
            os.waitpid(pid, 0)
            return
    if '--listen-fds' in args:
        sock = listen_fds_socket()
    else:
        host = args[args.index('--host') + 1] if '--host' in args else '127.0.0.1'
        port = int(args[args.index('--port') + 1])
        if '--delay' in args:
            import time
            time.sleep(float(args[args.index('--delay') + 1]))
        sock = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET)
        sock.bind((host, port))
        sock.listen(16)
        if '--delay' in args:
            sys.stderr.write('listening at %r\n' % time.time())
            sys.stderr.flush()
    if '--daemonize' in args:
        daemonize()
    serve(sock, '--admin-port' in args)


if __name__ == '__main__':
    main(sys.argv[1:])
