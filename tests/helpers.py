"""Small tools the test modules share: descriptor counting, temp-dir snapshots."""
from __future__ import absolute_import, division, print_function

import importlib
import os
import socket
import tempfile

from testsupport import _compat

socketserver = importlib.import_module(_compat.socketserver_name)

_FD_DIR = '/proc/self/fd' if os.path.isdir('/proc/self/fd') else '/dev/fd'


def fd_count():
    """How many file descriptors this process has open."""
    return len(open_fds())


def is_closed(sock):
    """True if *sock* has been closed."""
    try:
        return sock.fileno() == -1
    except _compat.OS_ERRORS:  # 2.7: a closed socket raises EBADF
        return True


class EchoHandler(socketserver.BaseRequestHandler):
    """Send back what one recv() got."""

    def handle(self):
        self.request.sendall(self.request.recv(1024))


def open_fds():
    """The set of this process's open file descriptors."""
    return set(os.listdir(_FD_DIR))


class FdLeakMixin(object):
    """assertNoFdLeak(): fail if a block opens descriptors it does not close."""

    def assertNoFdLeak(self, func, *args, **kwargs):
        """Call *func*; return (result, exception) and fail if it leaked an fd."""
        before = open_fds()
        result = exc = None
        try:
            result = func(*args, **kwargs)
        except Exception as err:  # the caller asserts on it
            exc = err
        after = open_fds()
        self.assertEqual(after - before, set(), 'descriptors leaked by %r' % (func,))
        return result, exc


def temp_entries():
    """Names in the temp directory (for "nothing left behind" checks)."""
    return set(os.listdir(tempfile.gettempdir()))


def refusing_port(testcase, family=socket.AF_INET, host='127.0.0.1'):
    """A port that refuses connections: bound (so nobody else takes it), not listening."""
    sock = new_socket(testcase, family)
    sock.bind((host, 0))
    return sock.getsockname()[1]


def new_socket(testcase, family=socket.AF_INET, type=socket.SOCK_STREAM):
    """A real socket closed at the end of *testcase*."""
    sock = socket.socket(family, type)
    testcase.addCleanup(sock.close)
    return sock
