"""Small tools the test modules share: descriptor counting, temp-dir snapshots."""
from __future__ import absolute_import, division, print_function

import os
import socket
import tempfile
import unittest

_FD_DIR = '/proc/self/fd' if os.path.isdir('/proc/self/fd') else '/dev/fd'


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


requires_linux = unittest.skipUnless(os.path.isdir('/proc/self/fd'),
                                     'counts descriptors through /proc (Linux)')
