"""Tests for testsupport._sockets: the one bind() and its messages, private directories.

Most of _sockets is tested through its callers (test_socket_helper.py); these
are the branches those cannot reach here: PyPy's errno-less family mismatch and
an EINVAL on a socket that cannot say where it is bound, both on a FakeSocket.
"""
from __future__ import absolute_import, division, print_function

import errno
import shutil
import socket
import tempfile
import unittest

from testsupport import _sockets, _system, platform_shim
from tests.fakes import FakeSocket, FakeSocketError
from tests.helpers import FdLeakMixin, new_socket

LINUX = platform_shim.LINUX


class UnnamedFakeSocket(FakeSocket):
    """A FakeSocket whose getsockname() fails, as on a socket the kernel has dropped."""

    def getsockname(self):
        raise FakeSocketError(errno.EBADF, 'Bad file descriptor')


class BindMessagesTest(unittest.TestCase):

    def test_errnoless_family_mismatch_is_a_gaierror_naming_the_host(self):
        # PyPy raises OSError('address family mismatched') without an errno.
        sock = FakeSocket(family=socket.AF_INET6,
                          bind_error=socket.error('address family mismatched'))
        with self.assertRaises(socket.gaierror) as cm:
            _sockets.bind(sock, 'localhost', 0, 'bind_port', LINUX)
        self.assertEqual(cm.exception.errno, LINUX.gai_errnos['EAI_NONAME'])
        self.assertIn("bind_port(): cannot resolve host 'localhost' for AF_INET6: address "
                      "family mismatched", str(cm.exception))

    def test_einval_on_a_socket_without_a_name_propagates_unchanged(self):
        error = FakeSocketError(errno.EINVAL, 'Invalid argument')
        sock = UnnamedFakeSocket(bind_error=error)
        with self.assertRaises(socket.error) as cm:
            _sockets.bind(sock, '127.0.0.1', 0, 'bind_port', LINUX)
        self.assertIs(cm.exception, error)

    def test_ipv6_addresses_are_bracketed(self):
        self.assertEqual(_sockets.format_address('::1', 80), '[::1]:80')
        self.assertEqual(_sockets.format_address('127.0.0.1', 80), '127.0.0.1:80')


class RemoveDeadPrivateDirsTest(unittest.TestCase):

    def test_missing_base_removes_nothing(self):
        base = tempfile.mkdtemp(prefix='tsu-dead-')
        shutil.rmtree(base)
        self.assertEqual(_sockets.remove_dead_private_dirs(LINUX, base, _system.user_id()), 0)


if __name__ == '__main__':
    unittest.main()


class ProbeBindTest(FdLeakMixin, unittest.TestCase):

    def test_probe_bind_closes_its_socket(self):
        result, exc = self.assertNoFdLeak(_sockets.probe_bind, socket.AF_INET, ('127.0.0.1', 0))
        self.assertIsNone(exc)
        self.assertIsNone(result)
        taken = new_socket(self)
        taken.bind(('127.0.0.1', 0))
        error, exc = self.assertNoFdLeak(_sockets.probe_bind, socket.AF_INET,
                                         taken.getsockname())
        self.assertEqual(error.errno, errno.EADDRINUSE)

    def test_probe_bind_reports_socket_creation_errors(self):
        error, exc = self.assertNoFdLeak(_sockets.probe_bind, 12345, ('x', 0))
        self.assertIsNone(exc)
        self.assertEqual(error.errno, errno.EAFNOSUPPORT)


