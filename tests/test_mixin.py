"""Tests for testsupport.mixin.SocketTestMixin.

Each cleanup test builds an inner TestCase class, runs it with a
``unittest.TestResult()``, then checks the result and that file descriptors,
threads, socket files and directories are back where they started.
"""
from __future__ import absolute_import, division, print_function

import errno
import importlib
import os
import select
import socket
import stat
import threading
import unittest

import testsupport.mixin
from testsupport import _compat, _sockets, platform_shim, servers, socket_helper, support
from testsupport.mixin import SocketTestMixin
from tests.helpers import EchoHandler, fd_count, is_closed

socketserver = importlib.import_module(_compat.socketserver_name)


def allocate_everything(case, made):
    """Use every resource-making method of *case*; record what was made in *made*."""
    made['listener'] = case.make_listener()
    made['udp'] = case.make_udp_socket()
    made['plain'] = case.make_socket()
    case.bind_port(made['plain'])
    made['unix'] = case.make_socket(socket.AF_UNIX)
    made['unix_path'] = case.bind_unix_socket(made['unix'])
    made['spare_path'] = case.unix_socket_path()
    made['server'] = socketserver.TCPServer((socket_helper.HOST, 0), EchoHandler)
    made['address'] = case.start_server_thread(made['server'])
    case.wait_for_port(made['address'][1])
    case.assertPortInUse(made['listener'].getsockname()[1])
    case.assertPortFree(case.find_unused_port())
    if socket_helper.IPV6_ENABLED:
        made['listener6'] = case.make_listener(socket.AF_INET6)


def setUpModule():
    """Fill open-once caches (2.7 keeps /dev/urandom open for uuid4) before counting fds."""
    class WarmUp(SocketTestMixin, unittest.TestCase):
        def test_it(self):
            allocate_everything(self, {})
    WarmUp('test_it').run(unittest.TestResult())


class CleanupTestCase(unittest.TestCase):
    """Runs inner test cases and checks that they leave nothing behind."""

    def run_inner(self, case_class, name='test_it'):
        fds = fd_count()
        threads = set(threading.enumerate())
        result = unittest.TestResult()
        case_class(name).run(result)
        self.assertEqual(fd_count(), fds)
        self.assertEqual(set(threading.enumerate()), threads)
        return result

    def assert_released(self, made):
        for key in ('listener', 'udp', 'plain', 'unix', 'listener6'):
            if key in made:
                self.assertTrue(is_closed(made[key]), key)
        for key in ('unix_path', 'spare_path'):
            self.assertFalse(os.path.exists(made[key]), made[key])
            self.assertFalse(os.path.exists(os.path.dirname(made[key])), made[key])
        self.assertTrue(is_closed(made['server'].socket))


class CleanupOutcomeTest(CleanupTestCase):
    def test_pass_releases_everything(self):
        made = {}

        class Inner(SocketTestMixin, unittest.TestCase):
            def test_it(self):
                allocate_everything(self, made)

        result = self.run_inner(Inner)
        self.assertTrue(result.wasSuccessful(), result.errors + result.failures)
        self.assert_released(made)

    def test_failure_releases_everything(self):
        made = {}

        class Inner(SocketTestMixin, unittest.TestCase):
            def test_it(self):
                allocate_everything(self, made)
                self.fail('on purpose')

        result = self.run_inner(Inner)
        self.assertEqual(len(result.failures), 1)
        self.assertIn('on purpose', result.failures[0][1])
        self.assert_released(made)

    def test_error_releases_everything(self):
        made = {}

        class Inner(SocketTestMixin, unittest.TestCase):
            def test_it(self):
                allocate_everything(self, made)
                raise RuntimeError('on purpose')

        result = self.run_inner(Inner)
        self.assertEqual(len(result.errors), 1)
        self.assertIn('RuntimeError: on purpose', result.errors[0][1])
        self.assert_released(made)

    def test_skip_after_allocating_releases_everything(self):
        made = {}

        class Inner(SocketTestMixin, unittest.TestCase):
            def test_it(self):
                allocate_everything(self, made)
                self.skipTest('on purpose')

        result = self.run_inner(Inner)
        self.assertEqual([reason for _, reason in result.skipped], ['on purpose'])
        self.assert_released(made)

    def test_setup_raising_releases_everything(self):
        made = {}

        class Inner(SocketTestMixin, unittest.TestCase):
            def setUp(self):
                allocate_everything(self, made)
                raise RuntimeError('setUp broke')

            def test_it(self):
                made['ran'] = True

        result = self.run_inner(Inner)
        self.assertEqual(len(result.errors), 1)
        self.assertIn('RuntimeError: setUp broke', result.errors[0][1])
        self.assertNotIn('ran', made)
        self.assert_released(made)

    def test_setup_teardown_without_super_release_everything(self):
        made = {}

        class Base(SocketTestMixin, unittest.TestCase):
            def setUp(self):
                super(Base, self).setUp()
                made['base_setup'] = True

        class Inner(Base):
            def setUp(self):  # no super(): Base.setUp never runs
                allocate_everything(self, made)

            def tearDown(self):  # no super() either
                made['teardown'] = True

            def test_it(self):
                pass

        result = self.run_inner(Inner)
        self.assertTrue(result.wasSuccessful(), result.errors + result.failures)
        self.assertEqual(sorted(k for k in made if k in ('base_setup', 'teardown')),
                         ['teardown'])
        self.assert_released(made)

    def test_mixin_defines_no_setup_or_teardown(self):
        for name in ('setUp', 'tearDown', '__init__', 'setUpClass', 'tearDownClass'):
            self.assertNotIn(name, vars(SocketTestMixin))

    def test_cleanup_runs_in_reverse_order(self):
        log = []

        class Inner(SocketTestMixin, unittest.TestCase):
            def snapshot(self, label, made):
                state = [(key, is_closed(made[key])) for key in ('listener', 'udp') if key in made]
                if 'path' in made:
                    state.append(('path', not os.path.exists(made['path'])))
                if 'server' in made:
                    state.append(('server', is_closed(made['server'].socket)))
                log.append((label, state))

            def test_it(self):
                made = {}
                self.addCleanup(self.snapshot, 'first', made)
                made['listener'] = self.make_listener()
                self.addCleanup(self.snapshot, 'after listener', made)
                made['udp'] = self.make_udp_socket()
                self.addCleanup(self.snapshot, 'after udp', made)
                made['path'] = self.bind_unix_socket(self.make_socket(socket.AF_UNIX))
                self.addCleanup(self.snapshot, 'after unix', made)
                made['server'] = socketserver.TCPServer((socket_helper.HOST, 0), EchoHandler)
                self.start_server_thread(made['server'])
                self.addCleanup(self.snapshot, 'last', made)

        result = self.run_inner(Inner)
        self.assertTrue(result.wasSuccessful(), result.errors + result.failures)
        # True = released at that point.
        self.assertEqual(log, [
            ('last', [('listener', False), ('udp', False), ('path', False),
                      ('server', False)]),
            ('after unix', [('listener', False), ('udp', False), ('path', False),
                            ('server', True)]),
            ('after udp', [('listener', False), ('udp', False), ('path', True),
                           ('server', True)]),
            ('after listener', [('listener', False), ('udp', True), ('path', True),
                                ('server', True)]),
            ('first', [('listener', True), ('udp', True), ('path', True), ('server', True)]),
        ])


class MethodsTest(SocketTestMixin, unittest.TestCase):
    def test_find_unused_port_is_bindable(self):
        port = self.find_unused_port()
        self.assertPortFree(port)

    def test_bind_port_defaults_to_host(self):
        sock = self.make_socket()
        port = self.bind_port(sock)
        self.assertEqual(sock.getsockname(), (socket_helper.HOST, port))

    def test_bind_port_ipv6_defaults_to_hostv6(self):
        self.skip_unless_ipv6()
        sock = self.make_socket(socket.AF_INET6)
        self.bind_port(sock)
        self.assertEqual(sock.getsockname()[0], socket_helper.HOSTv6)

    def test_make_socket_passes_arguments(self):
        sock = self.make_socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.assertEqual(platform_shim.current().socket_type(sock), socket.SOCK_DGRAM)

    def test_make_listener_accepts(self):
        listener = self.make_listener(backlog=1)
        client = self.make_socket()
        client.settimeout(support.LOOPBACK_TIMEOUT)
        client.connect(listener.getsockname())
        conn, _ = listener.accept()
        self.addCleanup(conn.close)
        self.assertEqual(conn.getpeername(), client.getsockname())

    def test_make_udp_socket_receives(self):
        receiver = self.make_udp_socket()
        sender = self.make_udp_socket()
        sender.sendto(b'hi', receiver.getsockname())
        receiver.settimeout(support.LOOPBACK_TIMEOUT)
        self.assertEqual(receiver.recvfrom(10)[0], b'hi')

    def test_unix_socket_path_is_fresh_and_private(self):
        first, second = self.unix_socket_path(), self.unix_socket_path()
        self.assertNotEqual(os.path.dirname(first), os.path.dirname(second))
        self.assertFalse(os.path.exists(first))
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(first)).st_mode), 0o700)

    def test_bind_unix_socket_to_given_path(self):
        self.skip_unless_bind_unix_socket()
        path = self.unix_socket_path()
        sock = self.make_socket(socket.AF_UNIX)
        self.assertEqual(self.bind_unix_socket(sock, path), path)
        self.assertEqual(sock.getsockname(), path)

    def test_bind_unix_socket_removes_a_given_file_at_cleanup(self):
        self.skip_unless_bind_unix_socket()
        path = socket_helper.create_unix_domain_name()  # not in a mixin directory

        class Inner(SocketTestMixin, unittest.TestCase):
            def test_bind(self):
                self.bind_unix_socket(self.make_socket(socket.AF_UNIX), path)

        for _ in range(2):  # a second run would fail with EADDRINUSE on a stale file
            result = unittest.TestResult()
            Inner('test_bind').run(result)
            self.assertTrue(result.wasSuccessful(), result.errors)
            self.assertFalse(os.path.exists(path))

    def test_start_server_thread_echoes(self):
        server = socketserver.TCPServer((socket_helper.HOST, 0), EchoHandler)
        host, port = self.start_server_thread(server)
        self.assertEqual((host, port), server.server_address)
        client = self.make_socket()
        client.settimeout(support.LOOPBACK_TIMEOUT)
        client.connect((host, port))
        client.sendall(b'echo')
        self.assertEqual(client.recv(10), b'echo')

    def test_wait_for_port_fails_test_with_message(self):
        sock = self.make_socket()
        port = self.bind_port(sock)  # bound, not listening: refused
        with self.assertRaises(self.failureException) as cm:
            self.wait_for_port(port, timeout=0)
        self.assertIn('wait_for_port(): nothing accepted TCP connections at 127.0.0.1:%d '
                      'within 0.0 s' % port, str(cm.exception))

    def test_assert_port_free_message(self):
        port = self.make_listener().getsockname()[1]
        with self.assertRaises(self.failureException) as cm:
            self.assertPortFree(port)
        self.assertIn('port %d on 127.0.0.1 (TCP) is in use: ' % port, str(cm.exception))

    def test_assert_port_in_use_message(self):
        port = self.find_unused_port(socket.AF_INET, socket.SOCK_DGRAM)
        with self.assertRaises(self.failureException) as cm:
            self.assertPortInUse(port, socktype=socket.SOCK_DGRAM, msg='udp server')
        if platform_shim.current().port_table is None:
            found = 'a test bind() succeeded'
        else:
            found = 'no socket is bound to it and it can be bound'
        self.assertEqual(str(cm.exception),
                         'port %d on 127.0.0.1 (UDP) is free: %s; was the socket closed '
                         'already, or bound to another host? : udp server' % (port, found))

    def test_assert_port_ipv6(self):
        self.skip_unless_ipv6()
        port = self.make_listener(socket.AF_INET6).getsockname()[1]
        self.assertPortInUse(port, family=socket.AF_INET6)
        with self.assertRaises(self.failureException) as cm:
            self.assertPortFree(port, family=socket.AF_INET6)
        self.assertIn('port %d on ::1 (TCP) is in use: ' % port, str(cm.exception))


class AssertPortObservesOnlyTest(SocketTestMixin, unittest.TestCase):
    """assertPortInUse/assertPortFree never connect: a listener's accept queue is untouched."""

    def assert_queue_empty(self, listener):
        self.assertEqual(select.select([listener], [], [], 0)[0], [])
        listener.setblocking(False)
        with self.assertRaises(socket.error) as cm:
            listener.accept()
        self.assertIn(cm.exception.errno, (errno.EAGAIN, errno.EWOULDBLOCK))

    def test_assert_port_in_use_leaves_accept_queue_empty(self):
        listener = self.make_listener()
        self.assertPortInUse(listener.getsockname()[1])
        self.assert_queue_empty(listener)

    def test_failing_assert_port_free_leaves_accept_queue_empty(self):
        listener = self.make_listener()
        with self.assertRaises(self.failureException):
            self.assertPortFree(listener.getsockname()[1])
        self.assert_queue_empty(listener)

    def test_ipv6_listener(self):
        self.skip_unless_ipv6()
        listener = self.make_listener(socket.AF_INET6)
        self.assertPortInUse(listener.getsockname()[1], family=socket.AF_INET6)
        self.assert_queue_empty(listener)

    def test_legacy_test_asserts_then_accepts_its_client(self):
        received = []

        class LegacyTest(SocketTestMixin, unittest.TestCase):
            def test_it(self):
                listener = self.make_listener(backlog=1)
                port = listener.getsockname()[1]
                self.assertPortInUse(port)
                client = self.make_socket()
                client.settimeout(support.LOOPBACK_TIMEOUT)
                client.connect(('127.0.0.1', port))
                client.sendall(b'hello legacy')
                listener.settimeout(support.LOOPBACK_TIMEOUT)
                conn, _ = listener.accept()
                self.addCleanup(conn.close)
                conn.settimeout(support.LOOPBACK_TIMEOUT)
                received.append(conn.recv(100))

        result = unittest.TestResult()
        LegacyTest('test_it').run(result)
        self.assertEqual((result.errors, result.failures), ([], []))
        self.assertEqual(received, [b'hello legacy'])


class SkipMethodsTest(SocketTestMixin, unittest.TestCase):
    def set_module_value(self, module, name, value):
        self.addCleanup(setattr, module, name, getattr(module, name))
        setattr(module, name, value)

    def set_unix_problem(self, reason):
        problems = _sockets._unix_problems  # the cached probe results, per platform
        self.addCleanup(problems.__setitem__, slice(None), list(problems))
        problems.insert(0, (platform_shim.current(), reason))

    def test_skip_unless_ipv6_reason(self):
        self.set_module_value(socket_helper, 'IPV6_ENABLED', False)
        with self.assertRaises(unittest.SkipTest) as cm:
            self.skip_unless_ipv6()
        self.assertEqual(str(cm.exception), 'requires IPv6: this host cannot bind ::1 '
                                            '(socket_helper.IPV6_ENABLED is False)')

    def test_skip_unless_ipv6_passes_when_enabled(self):
        self.set_module_value(socket_helper, 'IPV6_ENABLED', True)
        self.skip_unless_ipv6()

    def test_skip_unless_bind_unix_socket_reason(self):
        self.set_unix_problem('No UNIX Sockets')
        with self.assertRaises(unittest.SkipTest) as cm:
            self.skip_unless_bind_unix_socket()
        self.assertEqual(str(cm.exception), 'No UNIX Sockets')

    def test_skip_unless_bind_unix_socket_passes_when_possible(self):
        self.set_unix_problem(None)
        self.skip_unless_bind_unix_socket()

    def test_requires_names_resource(self):
        self.set_module_value(support, 'use_resources', set())
        with self.assertRaises(support.ResourceDenied) as cm:
            self.requires('network')
        self.assertIn("Use of the 'network' resource not enabled; add it to "
                      "testsupport.support.use_resources", str(cm.exception))

    def test_requires_passes_when_enabled(self):
        self.set_module_value(support, 'use_resources', set(['network']))
        self.requires('network')


class ExportTest(unittest.TestCase):
    def test_all(self):
        self.assertEqual(testsupport.mixin.__all__, ['SocketTestMixin'])
        self.assertEqual(sorted(servers.__all__), servers.__all__)
        for name in servers.__all__:
            self.assertTrue(hasattr(servers, name), name)
            self.assertIs(type(name), str)


def _installed(module_name):
    try:
        importlib.import_module(module_name)
    except ImportError:
        return False
    return True


def _django_testcase():
    """Django's SimpleTestCase, after configuring minimal settings if none are."""
    import django
    from django.conf import settings
    if not settings.configured:
        settings.configure()
        django.setup()
    from django.test import SimpleTestCase
    return SimpleTestCase


class FrameworkTest(CleanupTestCase):
    """The mixin with other TestCase bases (each skipped where not installed)."""

    def check_base(self, base):
        # A first run opens what the framework keeps open (Twisted's reactor).
        warm_up = type('WarmUp', (SocketTestMixin, base), {'test_it': lambda self: None})
        warm_up('test_it').run(unittest.TestResult())
        made = {}

        class Inner(SocketTestMixin, base):
            def test_it(self):
                allocate_everything(self, made)

        result = self.run_inner(Inner)
        self.assertEqual(result.testsRun, 1)
        self.assertTrue(result.wasSuccessful(), result.errors + result.failures)
        self.assert_released(made)

    def test_unittest_testcase(self):
        self.check_base(unittest.TestCase)

    @unittest.skipUnless(hasattr(unittest, 'IsolatedAsyncioTestCase'), 'needs Python 3.8+')
    def test_isolated_asyncio_testcase(self):
        self.check_base(unittest.IsolatedAsyncioTestCase)

    @unittest.skipUnless(_installed('twisted'), 'twisted is not installed')
    def test_twisted_trial_testcase(self):
        from twisted.trial.unittest import TestCase
        self.check_base(TestCase)

    @unittest.skipUnless(_installed('django'), 'django is not installed')
    def test_django_simple_testcase(self):
        self.check_base(_django_testcase())
