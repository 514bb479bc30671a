"""Tests for testsupport.socket_helper: CPython's contract, our fixes, the failure modes."""
from __future__ import absolute_import, division, print_function

import errno
import io
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import unittest

from testsupport import _compat, _sockets, _system, platform_shim, socket_helper, support
from testsupport.socket_helper import (
    HOST,
    HOSTv4,
    HOSTv6,
    IPV6_ENABLED,
    bind_port,
    bind_unix_socket,
    create_unix_domain_name,
    find_unused_port,
    get_socket_conn_refused_errs,
    transient_internet,
)
from tests.fakes import FakeSocket, FakeSocketError
from tests.helpers import FdLeakMixin, new_socket, refusing_port

LINUX = platform_shim.LINUX
WINDOWS = platform_shim.WINDOWS
MACOS = platform_shim.MACOS
FREEBSD = platform_shim.FREEBSD
requires_ipv6 = unittest.skipUnless(IPV6_ENABLED, 'IPv6 is not enabled on this host')
requires_unix = unittest.skipUnless(socket_helper.can_bind_unix_socket(),
                                    'AF_UNIX bind() does not work here')


class ConstantsTest(unittest.TestCase):

    def test_hosts_are_numeric_loopback(self):
        self.assertEqual(HOST, '127.0.0.1')
        self.assertEqual(HOSTv4, '127.0.0.1')
        self.assertEqual(HOSTv6, '::1')

    def test_has_gethostname_true_here(self):
        self.assertIs(socket_helper.has_gethostname, True)
        socket.gethostname()

    def test_ipv6_enabled_matches_a_real_bind(self):
        error = _sockets.probe_bind(socket.AF_INET6, (HOSTv6, 0))
        self.assertEqual(IPV6_ENABLED, socket.has_ipv6 and error is None)

    def test_python_built_without_ipv6_is_disabled(self):
        class NoIPv6(object):
            has_ipv6 = False
        self.assertIs(socket_helper._is_ipv6_enabled(NoIPv6), False)


class FindUnusedPortTest(FdLeakMixin, unittest.TestCase):

    def assertBindable(self, port, family=socket.AF_INET, socktype=socket.SOCK_STREAM):
        host = HOSTv6 if family == socket.AF_INET6 else HOST
        sock = new_socket(self, family, socktype)
        sock.bind((host, port))
        self.assertEqual(sock.getsockname()[1], port)

    def test_tcp_port_is_bindable(self):
        port = find_unused_port()
        self.assertTrue(1024 <= port <= 65535, port)
        self.assertBindable(port)

    def test_udp_port_is_bindable(self):
        port = find_unused_port(socket.AF_INET, socket.SOCK_DGRAM)
        self.assertBindable(port, socktype=socket.SOCK_DGRAM)

    @requires_ipv6
    def test_ipv6_port_binds_on_ipv6_loopback(self):
        port = find_unused_port(socket.AF_INET6)
        self.assertBindable(port, socket.AF_INET6)

    def test_keyword_arguments_as_cpython(self):
        port = find_unused_port(family=socket.AF_INET, socktype=socket.SOCK_STREAM)
        self.assertIsInstance(port, int)

    def test_af_unix_raises_value_error_and_points_to_unix_helpers(self):
        _, exc = self.assertNoFdLeak(find_unused_port, socket.AF_UNIX)
        self.assertIsInstance(exc, ValueError)
        self.assertIn('find_unused_port(): AF_UNIX has no ports', str(exc))
        self.assertIn('use socket.AF_INET or socket.AF_INET6, or for AF_UNIX '
                      'create_unix_domain_name() for an address', str(exc))

    def test_unknown_family_raises_value_error(self):
        _, exc = self.assertNoFdLeak(find_unused_port, 12345)
        self.assertIsInstance(exc, ValueError)
        self.assertEqual(str(exc), 'find_unused_port(): family 12345 has no ports; '
                                   'use socket.AF_INET or socket.AF_INET6')

    def test_raw_socket_type_raises_value_error(self):
        _, exc = self.assertNoFdLeak(find_unused_port, socket.AF_INET, socket.SOCK_RAW)
        self.assertIsInstance(exc, ValueError)
        self.assertIn('socket type %d has no ports; use socket.SOCK_STREAM (TCP) or '
                      'socket.SOCK_DGRAM (UDP)' % socket.SOCK_RAW, str(exc))


class BindPortTest(FdLeakMixin, unittest.TestCase):

    def test_returns_the_bound_port_on_host(self):
        sock = new_socket(self)
        port = bind_port(sock)
        self.assertEqual(sock.getsockname(), (HOST, port))

    def test_udp_socket_binds(self):
        sock = new_socket(self, type=socket.SOCK_DGRAM)
        port = bind_port(sock)
        self.assertEqual(sock.getsockname(), (HOST, port))

    def test_explicit_host(self):
        sock = new_socket(self)
        port = bind_port(sock, '127.0.0.1')
        self.assertEqual(sock.getsockname()[1], port)

    @requires_ipv6
    def test_ipv6_socket_default_host_is_ipv6_loopback(self):
        sock = new_socket(self, socket.AF_INET6)
        port = bind_port(sock)
        self.assertEqual(sock.getsockname()[:2], (HOSTv6, port))

    def test_reuseaddr_set_raises(self):
        sock = new_socket(self)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with self.assertRaises(support.TestFailed) as cm:
            bind_port(sock)
        self.assertEqual(
            str(cm.exception),
            'bind_port(): SO_REUSEADDR is set on this TCP socket, so another process could '
            'bind the same port; tests should never set SO_REUSEADDR on TCP/IP sockets (only '
            'for UDP multicast): remove the setsockopt() call')
        self.assertEqual(sock.getsockname()[1], 0, 'the socket must stay unbound')

    @unittest.skipUnless(platform_shim.current().so_reuseport is not None, 'no SO_REUSEPORT')
    def test_reuseport_set_raises(self):
        sock = new_socket(self)
        sock.setsockopt(socket.SOL_SOCKET, platform_shim.current().so_reuseport, 1)
        with self.assertRaises(support.TestFailed) as cm:
            bind_port(sock)
        self.assertIn('bind_port(): SO_REUSEPORT is set on this TCP socket', str(cm.exception))

    def test_non_blocking_socket_with_reuseaddr_raises(self):
        # Python 3.6 reports type 2049 (SOCK_STREAM|SOCK_NONBLOCK) here, which made
        # CPython 3.6's own guard skip the check.
        sock = new_socket(self)
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with self.assertRaises(support.TestFailed):
            bind_port(sock)

    @unittest.skipUnless(hasattr(socket, 'SOCK_NONBLOCK'), 'socket.SOCK_NONBLOCK is 3.2+ on Linux')
    def test_socket_created_with_nonblock_flag_is_still_checked(self):
        sock = new_socket(self, type=socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with self.assertRaises(support.TestFailed):
            bind_port(sock)

    @requires_ipv6
    def test_ipv6_tcp_with_reuseaddr_raises(self):
        sock = new_socket(self, socket.AF_INET6)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with self.assertRaises(support.TestFailed):
            bind_port(sock)

    def test_udp_with_reuseaddr_is_allowed(self):
        sock = new_socket(self, type=socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.assertGreater(bind_port(sock), 0)

    def test_not_a_socket_raises_type_error(self):
        _, exc = self.assertNoFdLeak(bind_port, 5)
        self.assertIsInstance(exc, TypeError)
        self.assertEqual(str(exc), 'bind_port() expects a socket.socket, got int 5')

    def test_closed_socket_raises_value_error(self):
        sock = socket.socket()
        sock.close()
        _, exc = self.assertNoFdLeak(bind_port, sock)
        self.assertIsInstance(exc, ValueError)
        self.assertEqual(str(exc), 'bind_port(): the socket is closed; create a new socket '
                                   'and pass that')

    @requires_unix
    def test_unix_socket_raises_value_error(self):
        sock = new_socket(self, socket.AF_UNIX)
        _, exc = self.assertNoFdLeak(bind_port, sock)
        self.assertIsInstance(exc, ValueError)
        self.assertIn('bind_port(): AF_UNIX has no ports', str(exc))
        self.assertIn('bind_unix_socket() to bind', str(exc))

    def test_unresolvable_host_names_the_host(self):
        error = socket.gaierror(-2, 'Name or service not known')
        sock = FakeSocket(bind_error=error)
        with self.assertRaises(socket.gaierror) as cm:
            socket_helper._bind_port(sock, 'no-such-host.invalid', LINUX)
        self.assertEqual(cm.exception.errno, -2)
        self.assertEqual(
            str(cm.exception.args[1]),
            "bind_port(): cannot resolve host 'no-such-host.invalid' for AF_INET: Name or "
            "service not known; pass an IP address such as HOST ('127.0.0.1') or HOSTv6 ('::1')")

    def test_ipv6_address_on_inet_socket_says_so(self):
        sock = new_socket(self)
        _, exc = self.assertNoFdLeak(bind_port, sock, '::1')
        self.assertIsInstance(exc, socket.gaierror)
        self.assertIn("bind_port(): cannot resolve host '::1' for AF_INET: ", str(exc))
        self.assertIn("'::1' is an IPv6 address and the socket is AF_INET: create the "
                      "socket with socket.AF_INET6, or pass an IPv4 host such as HOST "
                      "('127.0.0.1')", str(exc))

    @requires_ipv6
    def test_explicit_ipv4_address_on_ipv6_socket_is_an_error(self):
        sock = new_socket(self, socket.AF_INET6)
        literal = '.'.join(['127', '0', '0', '1'])  # equal to HOST, but not HOST itself
        with self.assertRaises(socket.error) as cm:
            bind_port(sock, literal)
        if isinstance(cm.exception, socket.gaierror):  # 3.x; 2.7 maps it to ::ffff:127.0.0.1
            self.assertIn("'127.0.0.1' is an IPv4 address and the socket is AF_INET6: create "
                          "the socket with socket.AF_INET, or pass an IPv6 host such as HOSTv6 "
                          "('::1')", str(cm.exception))
        else:
            self.assertEqual(cm.exception.errno, errno.EADDRNOTAVAIL)

    @requires_ipv6
    def test_host_constant_on_ipv6_socket_means_ipv6_loopback(self):
        sock = new_socket(self, socket.AF_INET6)
        port = bind_port(sock, HOST)
        self.assertEqual(sock.getsockname()[:2], (HOSTv6, port))

    def test_family_of_wrong_type_raises_type_error(self):
        _, exc = self.assertNoFdLeak(find_unused_port, 'x')
        self.assertIsInstance(exc, TypeError)
        self.assertEqual(str(exc), "find_unused_port(): family must be an int such as "
                                   "socket.AF_INET, got str 'x'")
        _, exc = self.assertNoFdLeak(find_unused_port, socket.AF_INET, 'tcp')
        self.assertEqual(str(exc), "find_unused_port(): socktype must be an int such as "
                                   "socket.SOCK_STREAM, got str 'tcp'")

    def test_address_in_use_propagates_and_socket_stays_open(self):
        taken = new_socket(self)
        port = bind_port(taken)
        sock = new_socket(self)
        with self.assertRaises(socket.error) as cm:
            sock.bind((HOST, port))
        self.assertEqual(cm.exception.errno, errno.EADDRINUSE)
        self.assertNotEqual(sock.fileno(), -1)


class BindPortDescribedPlatformTest(unittest.TestCase):
    """The Windows, macOS and FreeBSD branches, with a FakeSocket."""

    def test_windows_sets_exclusiveaddruse_before_bind(self):
        sock = FakeSocket()
        port = socket_helper._bind_port(sock, HOST, WINDOWS)
        self.assertEqual(port, sock.port)
        writes = [c for c in sock.calls if c[0] in ('setsockopt', 'bind')]
        self.assertEqual(writes, [('setsockopt', 0xffff, ~0x4, 1), ('bind', (HOST, 0))])

    def test_windows_udp_is_not_made_exclusive(self):
        sock = FakeSocket(type=socket.SOCK_DGRAM)
        socket_helper._bind_port(sock, HOST, WINDOWS)
        self.assertNotIn('setsockopt', [c[0] for c in sock.calls])

    def test_windows_reuseaddr_set_raises(self):
        sock = FakeSocket(options={(0xffff, 0x4): 1})
        with self.assertRaises(support.TestFailed) as cm:
            socket_helper._bind_port(sock, HOST, WINDOWS)
        self.assertIn('SO_REUSEADDR is set', str(cm.exception))
        self.assertNotIn('bind', [c[0] for c in sock.calls])

    def test_linux_and_macos_never_set_options(self):
        for platform in (LINUX, MACOS, FREEBSD):
            sock = FakeSocket()
            socket_helper._bind_port(sock, HOST, platform)
            self.assertNotIn('setsockopt', [c[0] for c in sock.calls], platform)

    def test_macos_reuseport_set_raises(self):
        sock = FakeSocket(options={(0xffff, 0x200): 1})
        with self.assertRaises(support.TestFailed) as cm:
            socket_helper._bind_port(sock, HOST, MACOS)
        self.assertIn('SO_REUSEPORT is set', str(cm.exception))

    def test_both_options_named(self):
        sock = FakeSocket(options={(1, 2): 1, (1, 15): 1})
        with self.assertRaises(support.TestFailed) as cm:
            socket_helper._bind_port(sock, HOST, LINUX)
        self.assertIn('bind_port(): SO_REUSEADDR and SO_REUSEPORT are set on this TCP socket',
                      str(cm.exception))

    def test_freebsd_nonblocking_type_flags_are_ignored(self):
        sock = FakeSocket(type=socket.SOCK_STREAM | 0x20000000, options={(0xffff, 0x4): 1})
        with self.assertRaises(support.TestFailed):
            socket_helper._bind_port(sock, HOST, FREEBSD)

    def test_old_kernel_without_reuseport_is_tolerated(self):
        sock = FakeSocket(options={(1, 15): FakeSocketError(92, 'Protocol not available')})
        self.assertEqual(socket_helper._bind_port(sock, HOST, LINUX), sock.port)

    def test_other_getsockopt_errors_propagate(self):
        sock = FakeSocket(options={(1, 2): FakeSocketError(9, 'Bad file descriptor')})
        with self.assertRaises(socket.error) as cm:
            socket_helper._bind_port(sock, HOST, LINUX)
        self.assertEqual(cm.exception.errno, 9)


@requires_unix
class BindUnixSocketTest(FdLeakMixin, unittest.TestCase):

    def test_binds_to_the_path(self):
        path = create_unix_domain_name()
        self.addCleanup(_system.remove_quietly, path)
        sock = new_socket(self, socket.AF_UNIX)
        self.assertIsNone(bind_unix_socket(sock, path))
        self.assertEqual(sock.getsockname(), path)
        self.assertTrue(stat.S_ISSOCK(os.stat(path).st_mode))

    def test_inet_socket_raises_value_error(self):
        sock = new_socket(self)
        _, exc = self.assertNoFdLeak(bind_unix_socket, sock, create_unix_domain_name())
        self.assertIsInstance(exc, ValueError)
        self.assertEqual(str(exc), 'bind_unix_socket() needs an AF_UNIX socket, got AF_INET; '
                                   'use bind_port() for AF_INET/AF_INET6 sockets')

    def test_not_a_socket_raises_type_error(self):
        with self.assertRaises(TypeError) as cm:
            bind_unix_socket('/tmp/x.sock', '/tmp/x.sock')
        self.assertIn('bind_unix_socket() expects a socket.socket, got str', str(cm.exception))

    def test_path_too_long_raises_cpythons_error(self):
        # CPython's test_socket skips on exactly this message, so it is kept.
        sock = new_socket(self, socket.AF_UNIX)
        path = '/tmp/' + 'x' * 200
        _, exc = self.assertNoFdLeak(bind_unix_socket, sock, path)
        self.assertIsInstance(exc, socket.error)
        self.assertEqual(str(exc), 'AF_UNIX path too long')
        self.assertFalse(os.path.exists(path))

    @unittest.skipIf(_compat.PY2, 'surrogateescape file names are Python 3')
    def test_surrogateescape_path_binds(self):
        # CPython's test_socket.testSurrogateescapeBind: bind() encodes as os.fsencode.
        path = create_unix_domain_name() + '\udcf2\udcf3'
        self.addCleanup(_system.remove_quietly, path)
        sock = new_socket(self, socket.AF_UNIX)
        bind_unix_socket(sock, path)
        self.assertTrue(os.path.exists(path))

    def test_address_in_use_propagates(self):
        path = create_unix_domain_name()
        self.addCleanup(_system.remove_quietly, path)
        bind_unix_socket(new_socket(self, socket.AF_UNIX), path)
        sock = new_socket(self, socket.AF_UNIX)
        with self.assertRaises(socket.error) as cm:
            bind_unix_socket(sock, path)
        self.assertEqual(cm.exception.errno, errno.EADDRINUSE)
        self.assertNotEqual(sock.fileno(), -1, 'only a skip closes the socket')

    def test_permission_denied_skips_and_closes(self):
        sock = FakeSocket(family=socket.AF_UNIX, bind_error=FakeSocketError(13, 'Permission denied'))
        with self.assertRaises(unittest.SkipTest) as cm:
            socket_helper._bind_unix_socket(sock, '/x.sock', LINUX)
        self.assertEqual(str(cm.exception),
                         'cannot bind AF_UNIX sockets: [Errno 13] Permission denied')
        self.assertTrue(sock.closed)

    def test_eperm_skips(self):
        sock = FakeSocket(family=socket.AF_UNIX, bind_error=FakeSocketError(1, 'Not permitted'))
        with self.assertRaises(unittest.SkipTest):
            socket_helper._bind_unix_socket(sock, '/x.sock', LINUX)

    def test_windows_without_af_unix_raises_value_error(self):
        sock = FakeSocket(family=socket.AF_UNIX)
        with self.assertRaises(ValueError) as cm:
            socket_helper._bind_unix_socket(sock, 'x.sock', WINDOWS)
        self.assertEqual(str(cm.exception),
                         'bind_unix_socket(): this platform (windows) has no AF_UNIX sockets; '
                         'decorate the test with @skip_unless_bind_unix_socket')

    def test_abstract_name_is_passed_through(self):
        sock = FakeSocket(family=socket.AF_UNIX)
        socket_helper._bind_unix_socket(sock, b'\0' + b'x' * 107, LINUX)
        self.assertEqual(sock.calls[-1], ('bind', b'\0' + b'x' * 107))


class SkipUnlessBindUnixSocketTest(unittest.TestCase):

    @requires_unix
    def test_working_bind_returns_test_unchanged(self):
        def test():
            pass
        self.assertIs(socket_helper.skip_unless_bind_unix_socket(test), test)
        self.assertTrue(socket_helper.can_bind_unix_socket())

    def test_no_af_unix_reason(self):
        self.assertEqual(_sockets.unix_bind_problem(WINDOWS), 'No UNIX Sockets')

    def test_reason_skips_with_that_reason(self):
        class Case(unittest.TestCase):
            @socket_helper.skip_unless_bind_unix_socket
            def test_ok(self):
                pass

            def test_skipped(self):
                pass
        Case.test_skipped = socket_helper._skip_if_reason(Case.test_skipped, 'No UNIX Sockets')
        result = unittest.TestResult()
        unittest.defaultTestLoader.loadTestsFromTestCase(Case).run(result)
        self.assertEqual([reason for _, reason in result.skipped], ['No UNIX Sockets'])

    @requires_unix
    def test_probe_leaves_no_directory(self):
        made = []

        def make_private_dir(platform):
            made.append(_sockets.make_private_dir(platform))
            return made[-1]
        self.assertIsNone(_sockets._probe_unix_bind(LINUX, make_private_dir))
        self.assertEqual(len(made), 1)
        self.assertFalse(os.path.exists(made[0]))


class ConnRefusedErrsTest(unittest.TestCase):

    def test_contains_cpython_errnos(self):
        errs = get_socket_conn_refused_errs()
        for name in ('ECONNREFUSED', 'ENETUNREACH', 'EADDRNOTAVAIL', 'EHOSTUNREACH'):
            self.assertIn(getattr(errno, name), errs)
        self.assertEqual(errno.EAFNOSUPPORT in errs, not IPV6_ENABLED)

    def test_real_refused_connection_is_in_the_list(self):
        port = refusing_port(self)
        sock = new_socket(self)
        with self.assertRaises(socket.error) as cm:
            sock.connect((HOST, port))
        self.assertIn(cm.exception.errno, get_socket_conn_refused_errs())

    def test_windows_uses_winsock_numbers(self):
        self.assertEqual(WINDOWS.conn_refused_errnos(ipv6_enabled=False),
                         [10061, 10051, 10049, 10065, 10047])


class TransientInternetTest(unittest.TestCase):

    def setUp(self):
        old = socket.getdefaulttimeout()
        self.addCleanup(socket.setdefaulttimeout, old)

    def assertDenied(self, exc, name='site'):
        with self.assertRaises(support.ResourceDenied) as cm:
            with transient_internet(name):
                raise exc
        self.assertIn("Resource %r is not available" % name, str(cm.exception))
        self.assertIsInstance(cm.exception, unittest.SkipTest)
        return cm.exception

    def test_default_timeout_inside_and_restored(self):
        socket.setdefaulttimeout(7.0)
        with transient_internet('x'):
            self.assertEqual(socket.getdefaulttimeout(), support.INTERNET_TIMEOUT)
        self.assertEqual(socket.getdefaulttimeout(), 7.0)

    def test_positional_timeout_as_python_2_7(self):
        with transient_internet('x', 3.0):
            self.assertEqual(socket.getdefaulttimeout(), 3.0)
        self.assertIsNone(socket.getdefaulttimeout())

    def test_timeout_none_leaves_default_alone(self):
        socket.setdefaulttimeout(4.0)
        with transient_internet('x', timeout=None):
            self.assertEqual(socket.getdefaulttimeout(), 4.0)

    def test_timeout_restored_after_unrelated_error(self):
        with self.assertRaises(KeyError):
            with transient_internet('x', timeout=2.0):
                raise KeyError('boom')
        self.assertIsNone(socket.getdefaulttimeout())

    def test_socket_timeout_denied(self):
        self.assertDenied(socket.timeout('timed out'))

    def test_real_refused_connection_denied_with_cause(self):
        port = refusing_port(self)
        with self.assertRaises(support.ResourceDenied) as cm:
            with transient_internet('local'):
                sock = new_socket(self)
                sock.connect((HOST, port))
        self.assertIn("Resource 'local' is not available: [Errno %d]" % errno.ECONNREFUSED,
                      str(cm.exception))

    def test_gai_noname_denied(self):
        self.assertDenied(socket.gaierror(socket.EAI_NONAME, 'Name or service not known'))

    def test_gai_other_error_propagates(self):
        with self.assertRaises(socket.gaierror):
            with transient_internet('x'):
                raise socket.gaierror(socket.EAI_SERVICE, 'Servname not supported')

    def test_http_5xx_denied_4xx_propagates(self):
        def http_error(code):
            # A body, closed after the test: from 3.14 an HTTPError that is never
            # closed warns ("Implicitly cleaning up <HTTPError ...>"), and with
            # fp=None, close() fails on 3.6 (KeyError: 'file').
            error = _compat.url_error_classes()[1]('http://example.invalid/', code, 'x', {}, io.BytesIO())
            self.addCleanup(error.close)
            return error
        self.assertDenied(http_error(503))
        with self.assertRaises(_compat.url_error_classes()[1]):
            with transient_internet('x'):
                raise http_error(404)

    def test_urlerror_wrapping_refused_errno_denied(self):
        inner = socket.error(errno.ECONNREFUSED, 'Connection refused')
        self.assertDenied(_compat.url_error_classes()[0](inner))

    def test_urlerror_with_text_reason_denied(self):
        self.assertDenied(_compat.url_error_classes()[0]('ConnectionRefusedError: nope'))

    def test_ioerror_wrapping_in_args_is_unwrapped(self):
        inner = socket.error(errno.ECONNRESET, 'reset')
        self.assertDenied(IOError('socket error', inner))

    def test_custom_errnos_replace_defaults(self):
        with self.assertRaises(support.ResourceDenied):
            with transient_internet('x', errnos=[errno.EPIPE]):
                raise socket.error(errno.EPIPE, 'Broken pipe')
        with self.assertRaises(socket.error):
            with transient_internet('x', errnos=[errno.EPIPE]):
                raise socket.error(errno.ECONNREFUSED, 'refused')

    def test_nntp_temporary_error_denied_without_importing_nntplib(self):
        NNTPTemporaryError = type('NNTPTemporaryError', (Exception,), {})
        self.assertDenied(NNTPTemporaryError('400 busy'))

    def test_unrelated_os_error_propagates(self):
        with self.assertRaises(EnvironmentError) as cm:
            with transient_internet('x'):
                raise EnvironmentError(errno.ENOENT, 'no file')
        self.assertEqual(cm.exception.errno, errno.ENOENT)


class CreateUnixDomainNameTest(unittest.TestCase):

    def test_path_is_new_short_absolute_and_unique(self):
        first, second = create_unix_domain_name(), create_unix_domain_name()
        self.assertNotEqual(first, second)
        for path in (first, second):
            self.assertTrue(os.path.isabs(path), path)
            self.assertFalse(os.path.exists(path))
            self.assertLess(len(path), 80)
            self.assertTrue(path.endswith('.sock'))

    def test_directory_is_private_and_ours(self):
        directory = os.path.dirname(create_unix_domain_name())
        info = os.stat(directory)
        self.assertEqual(stat.S_IMODE(info.st_mode), 0o700)
        self.assertEqual(info.st_uid, os.geteuid())

    @requires_unix
    def test_path_is_bindable(self):
        path = create_unix_domain_name()
        self.addCleanup(_system.remove_quietly, path)
        bind_unix_socket(new_socket(self, socket.AF_UNIX), path)
        self.assertTrue(os.path.exists(path))

    def test_directory_removed_when_process_exits(self):
        code = ('import socket, testsupport.socket_helper as s\n'
                'p = s.create_unix_domain_name()\n'
                'x = socket.socket(socket.AF_UNIX); s.bind_unix_socket(x, p); x.close()\n'
                'print(p)\n')
        out = subprocess.check_output([sys.executable, '-c', code], cwd=_project_root())
        path = out.decode('ascii').strip()
        self.assertTrue(path.endswith('.sock'), path)
        self.assertFalse(os.path.exists(os.path.dirname(path)))

    def test_no_short_base_falls_back_to_the_temp_directory(self):
        directory = _sockets.make_private_dir(LINUX, ['/' + 'd' * 200], limit=108)
        self.addCleanup(shutil.rmtree, directory, True)
        self.assertEqual(os.path.dirname(directory), os.path.realpath(tempfile.gettempdir()))

    def test_directory_recreated_after_removal(self):
        first = create_unix_domain_name()
        socket_helper._remove_process_dir()
        self.assertFalse(os.path.exists(os.path.dirname(first)))
        second = create_unix_domain_name()
        self.assertTrue(os.path.isdir(os.path.dirname(second)))
        self.assertNotEqual(os.path.dirname(first), os.path.dirname(second))

    def test_long_tmpdir_falls_back_to_a_shorter_base(self):
        long_base = '/' + 'd' * 90
        directory = _sockets.make_private_dir(LINUX, [long_base, '/tmp'], limit=108)
        self.addCleanup(shutil.rmtree, directory, True)
        self.assertTrue(directory.startswith('/tmp/tsu-'), directory)


class DeadProcessDirectoriesTest(unittest.TestCase):
    """Private socket directories of processes that died without cleaning up are removed."""

    @requires_unix
    def test_directory_of_a_process_ended_by_os_exit_is_removed_by_the_next(self):
        base = tempfile.mkdtemp(prefix='tsu-dead-')
        self.addCleanup(shutil.rmtree, base, True)
        code = ('import os, sys; from testsupport import socket_helper as s\n'
                'print(s.create_unix_domain_name()); sys.stdout.flush()\n'
                'os._exit(0)\n')  # no atexit: the directory stays
        env = dict(os.environ, TMPDIR=base, PYTHONPATH=_project_root())
        out = subprocess.check_output([sys.executable, '-c', code], env=env)
        left = os.path.dirname(out.decode('ascii').strip())
        self.assertTrue(os.path.isdir(left))
        live = _sockets.make_private_dir(LINUX, [base])  # this process's first in *base*
        self.addCleanup(shutil.rmtree, live, True)
        self.assertFalse(os.path.exists(left))
        self.assertEqual(os.listdir(base), [os.path.basename(live)])

    def test_only_own_named_directories_of_dead_processes_go(self):
        base = tempfile.mkdtemp(prefix='tsu-dead-')
        self.addCleanup(shutil.rmtree, base, True)
        names = ['tsu-%d-0-abcdefgh' % os.getpid(),  # alive: this process
                 'tsu-cli-abcdefgh', 'tsu-0-0-abcdefgh', 'other']
        for name in names:
            os.mkdir(os.path.join(base, name))
        self.assertEqual(_sockets.remove_dead_private_dirs(LINUX, base, os.getuid() + 1), 0)
        self.assertEqual(_sockets.remove_dead_private_dirs(LINUX, base, os.getuid()), 0)
        self.assertEqual(sorted(os.listdir(base)), sorted(names))


class TcpBlackholeTest(unittest.TestCase):

    def test_false_off_freebsd(self):
        self.assertFalse(socket_helper.tcp_blackhole())
        self.assertFalse(socket_helper._tcp_blackhole(LINUX))

    def test_freebsd_sysctl_on(self):
        calls = []

        def run(cmd):
            calls.append(cmd)
            return 0, '1\n'
        self.assertTrue(FREEBSD.tcp_blackhole(run))
        self.assertEqual(calls, [['sysctl', '-n', 'net.inet.tcp.blackhole']])

    def test_freebsd_sysctl_off_or_failing(self):
        self.assertFalse(FREEBSD.tcp_blackhole(lambda cmd: (0, '0\n')))
        self.assertFalse(FREEBSD.tcp_blackhole(lambda cmd: (1, 'unknown oid')))
        self.assertFalse(FREEBSD.tcp_blackhole(lambda cmd: (None, '')))

    def test_result_is_cached(self):
        answers = ['1', '0']

        def run(cmd):
            return 0, answers.pop(0)
        self.assertTrue(socket_helper._tcp_blackhole(FREEBSD, run))
        self.assertTrue(socket_helper._tcp_blackhole(FREEBSD, run))
        self.assertEqual(answers, ['0'])

    def test_skip_if_tcp_blackhole_keeps_test_here(self):
        def test():
            pass
        self.assertIs(socket_helper.skip_if_tcp_blackhole(test), test)


def _project_root():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
