"""Tests for testsupport.pytest_plugin.

Each test writes a test file into a fresh temporary directory, runs
``sys.executable -m pytest`` on it in a subprocess with the plugin loaded, and
checks the exit status and the outcome line (style guide section 6).
"""
from __future__ import absolute_import, division, print_function

import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

import testsupport
from testsupport import _compat, support
from tests.helpers import private_registry, save_env, set_env

try:
    import pytest
except ImportError:
    pytest = None
try:
    import xdist
except ImportError:
    xdist = None

if pytest is not None:
    from testsupport import pytest_plugin
else:
    pytest_plugin = None

needs_pytest = unittest.skipIf(pytest is None, 'pytest is not installed for this Python '
                                               '(pip install pytest to run the plugin tests)')
needs_xdist = unittest.skipIf(xdist is None, 'pytest-xdist is not installed for this Python '
                                             '(pip install pytest-xdist to run the -n tests)')

#: The directory that holds the testsupport package under test.
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(testsupport.__file__)))

#: Load the plugin by module name whether or not its entry point is installed:
#: "-p no:testsupport" blocks the entry point (named "testsupport"), which would
#: otherwise register the same module a second time and make pytest fail with
#: "Plugin already registered".
PLUGIN_ARGS = ['-p', 'no:testsupport', '-p', 'testsupport.pytest_plugin']

_OUTCOME_RE = re.compile(r'(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected)')


def outcome(output):
    """``{'passed': 2, 'skipped': 1}`` from pytest's closing ``=== ... in 0.1s ===`` line."""
    lines = [line for line in output.splitlines()
             if line.startswith('=') and re.search(r' in [\d.]+ ?s', line)]
    if not lines:
        return {}
    counts = {}
    for number, word in _OUTCOME_RE.findall(lines[-1]):
        counts['error' if word.startswith('error') else word] = int(number)
    return counts


def line_of(source, text):
    """The number of the first line of dedented *source* that is *text*."""
    return textwrap.dedent(source).splitlines().index(text) + 1


class PytestRunMixin(object):
    """run_pytest(): write files into a temp dir and run pytest there."""

    def make_dir(self, files):
        directory = tempfile.mkdtemp(prefix='tsu-plugin-')
        self.addCleanup(shutil.rmtree, directory, True)
        for name, text in files.items():
            with open(os.path.join(directory, name), 'w') as fp:
                fp.write(textwrap.dedent(text))
        return directory

    def run_pytest(self, files, args=(), env=None, plugin_args=PLUGIN_ARGS):
        """Run pytest on *files* (``{name: source}``); return ``(status, output)``."""
        directory = self.make_dir(files)
        environ = dict(os.environ)
        environ.pop(support.USE_ENV_VAR, None)
        environ.pop('PYTEST_ADDOPTS', None)
        environ['PYTHONDONTWRITEBYTECODE'] = '1'
        environ['PYTHONPATH'] = os.pathsep.join([directory, PACKAGE_PARENT])
        environ.update(env or {})
        command = [sys.executable]
        if not _compat.PY2:
            command += ['-W', 'error::ResourceWarning']
        command += (['-m', 'pytest', '-p', 'no:cacheprovider', '--strict-markers', '-rs']
                    + list(plugin_args) + list(args))
        proc = subprocess.Popen(command, cwd=directory, env=environ,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output = proc.communicate()[0].decode('utf-8', 'replace')
        return proc.returncode, output

    def assertOutcome(self, result, expected_status, **counts):
        status, output = result
        self.assertEqual((status, outcome(output)), (expected_status, counts), output)
        return output


PORT_TESTS = '''
import socket
import contextlib

import pytest

from testsupport import _ports

seen = []


def bind(port, socktype):
    sock = socket.socket(socket.AF_INET, socktype)
    with contextlib.closing(sock):
        sock.bind(('127.0.0.1', port))


def test_tcp_port_is_free_and_leased(unused_tcp_port):
    assert isinstance(unused_tcp_port, int)
    bind(unused_tcp_port, socket.SOCK_STREAM)
    assert unused_tcp_port in _ports.current().unreleased()
    seen.append(unused_tcp_port)


def test_tcp_lease_released_at_teardown():
    assert seen[0] not in _ports.current().unreleased()


def test_udp_port_is_free(unused_udp_port):
    bind(unused_udp_port, socket.SOCK_DGRAM)


def test_tcp_factory_never_repeats(unused_tcp_port_factory):
    ports = [unused_tcp_port_factory() for _ in range(20)]
    assert len(set(ports)) == 20
    for port in ports:
        bind(port, socket.SOCK_STREAM)
    seen.extend(ports)


def test_tcp_factory_never_repeats_within_session(unused_tcp_port_factory):
    assert unused_tcp_port_factory() not in seen


def test_udp_factory_never_repeats(unused_udp_port_factory):
    ports = [unused_udp_port_factory() for _ in range(5)]
    assert len(set(ports)) == 5


@pytest.fixture(scope='session')
def session_server_port(unused_tcp_port_factory):
    return unused_tcp_port_factory()


def test_session_fixture_can_use_factory(session_server_port):
    bind(session_server_port, socket.SOCK_STREAM)
'''

SERVER_TESTS = '''
import os
import socket
import threading
import contextlib

from testsupport import _compat, socket_helper
import importlib
socketserver = importlib.import_module(_compat.socketserver_name)

state = {}


def is_closed(sock):
    try:
        return sock.fileno() == -1
    except socket.error:  # 2.7: a closed socket raises EBADF
        return True


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.sendall(self.request.recv(100))


def test_tcp_listener_accepts(tcp_listener):
    port = tcp_listener.getsockname()[1]
    client = socket.create_connection(('127.0.0.1', port), 10)
    with contextlib.closing(client):
        conn, _ = tcp_listener.accept()
        conn.close()
    state['listener'] = tcp_listener


def test_tcp_listener_closed_at_teardown():
    assert is_closed(state['listener'])


def test_udp_socket_receives(udp_socket):
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with contextlib.closing(sender):
        sender.sendto(b'ping', udp_socket.getsockname())
    assert udp_socket.recv(10) == b'ping'


def test_unix_socket_path_is_bindable(unix_socket_path):
    assert not os.path.exists(unix_socket_path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with contextlib.closing(sock):
        socket_helper.bind_unix_socket(sock, unix_socket_path)
    assert os.path.exists(unix_socket_path)
    state['unix'] = os.path.dirname(unix_socket_path)


def test_unix_socket_dir_removed_at_teardown():
    assert not os.path.exists(state['unix'])


def test_start_server_thread_serves(start_server_thread):
    server = socketserver.TCPServer(('127.0.0.1', 0), Echo)
    served = start_server_thread(server)
    client = socket.create_connection(served.address, 10)
    with contextlib.closing(client):
        client.sendall(b'hello')
        assert client.recv(100) == b'hello'
    state['served'] = served


def test_server_thread_stopped_at_teardown():
    assert not state['served'].thread.is_alive()
    assert is_closed(state['served'].server.socket)
'''


@needs_pytest
class PortFixturesTest(PytestRunMixin, unittest.TestCase):

    def test_port_fixtures_lease_and_release(self):
        result = self.run_pytest({'test_ports.py': PORT_TESTS})
        output = self.assertOutcome(result, 0, passed=7)
        self.assertNotIn('never released', output)

    def test_port_fixtures_under_xdist(self):
        if xdist is None:
            self.skipTest('pytest-xdist is not installed for this Python')
        result = self.run_pytest({'test_ports.py': PORT_TESTS}, ['-n', '2', '-p', 'xdist',
                                                                 '--dist', 'loadfile'])
        self.assertOutcome(result, 0, passed=7)


@needs_pytest
class ServerFixturesTest(PytestRunMixin, unittest.TestCase):

    def test_server_fixtures_clean_up(self):
        result = self.run_pytest({'test_servers.py': SERVER_TESTS})
        self.assertOutcome(result, 0, passed=7)

    def test_hung_server_fails_teardown(self):
        source = SERVER_TESTS + '''

handling = threading.Event()


class Hang(socketserver.BaseRequestHandler):
    def handle(self):
        handling.set()
        self.request.recv(100)


def test_hung_handler(start_server_thread):
    served = start_server_thread(socketserver.TCPServer(('127.0.0.1', 0), Hang))
    client = socket.create_connection(served.address, 10)
    state['client'] = client
    assert handling.wait(10)
    original_stop = served.stop
    served.stop = lambda: original_stop(0.2)


def test_release_hung_client():
    state['client'].close()
'''
        output = self.assertOutcome(self.run_pytest({'test_servers.py': source}), 1,
                                    passed=9, error=1)
        self.assertIn('did not stop within 0.2 s of shutdown()', output)


MARKER_TESTS = '''
import pytest


@pytest.mark.requires_ipv6
def test_ipv6():
    pass


@pytest.mark.requires_unix_socket
def test_unix():
    pass


@pytest.mark.requires_ipv6
class TestIPv6Class(object):
    def test_method(self):
        pass
'''

NO_IPV6_NO_UNIX_CONFTEST = '''
from testsupport import _sockets, platform_shim, socket_helper

socket_helper.IPV6_ENABLED = False
_sockets._unix_problems.insert(0, (platform_shim.current(), 'No UNIX Sockets'))
'''


@needs_pytest
class MarkersTest(PytestRunMixin, unittest.TestCase):

    def test_markers_run_where_supported(self):
        from testsupport import socket_helper
        if not (socket_helper.IPV6_ENABLED and socket_helper.can_bind_unix_socket()):
            self.skipTest('needs IPv6 and AF_UNIX binds on this machine')
        self.assertOutcome(self.run_pytest({'test_markers.py': MARKER_TESTS}), 0, passed=3)

    def test_markers_skip_with_reason_where_unsupported(self):
        output = self.assertOutcome(self.run_pytest({'test_markers.py': MARKER_TESTS,
                                                     'conftest.py': NO_IPV6_NO_UNIX_CONFTEST}),
                                    0, skipped=3)
        self.assertIn('requires_ipv6: IPv6 does not work on loopback here', output)
        self.assertIn('requires_unix_socket: No UNIX Sockets', output)
        # At the test's own line (its first decorator, as pytest's skip marks), not in the plugin.
        self.assertIn('SKIPPED [1] test_markers.py:%d: requires_unix_socket: No UNIX Sockets'
                      % line_of(MARKER_TESTS, '@pytest.mark.requires_unix_socket'), output)
        self.assertIn('SKIPPED [1] test_markers.py:%d: requires_ipv6: '
                      % line_of(MARKER_TESTS, '    def test_method(self):'), output)
        self.assertNotIn('pytest_plugin.py', output)

    def test_markers_registered_for_strict_markers(self):
        status, output = self.run_pytest({'test_x.py': 'def test_x():\n    pass\n'},
                                         ['--markers'])
        self.assertEqual(status, 0, output)
        self.assertIn('@pytest.mark.requires_ipv6:', output)
        self.assertIn('@pytest.mark.requires_unix_socket:', output)


@needs_pytest
class SkipReasonTest(unittest.TestCase):

    def test_ipv6_enabled_no_reason(self):
        self.assertIsNone(pytest_plugin._ipv6_skip_reason(True, None))

    def test_ipv6_disabled_names_bind_error(self):
        def probe(family, address):
            return OSError(99, 'Cannot assign requested address')
        reason = pytest_plugin._ipv6_skip_reason(False, probe)
        if not pytest_plugin.socket.has_ipv6:
            self.skipTest('Python built without IPv6: the other message applies')
        self.assertEqual(reason, "requires_ipv6: IPv6 does not work on loopback here: "
                                 "bind(('::1', 0)) failed: [Errno 99] Cannot assign "
                                 "requested address")

    def test_unix_reason_prefixed(self):
        self.assertEqual(pytest_plugin._unix_skip_reason('No UNIX Sockets'),
                         'requires_unix_socket: No UNIX Sockets')
        self.assertIsNone(pytest_plugin._unix_skip_reason(None))



@needs_pytest
class PortFactoryTest(unittest.TestCase):
    """The factory behind unused_tcp_port_factory, in this process, on a two-port range."""

    def setUp(self):
        from testsupport import allocator
        self.allocator = allocator
        private_registry(self)
        set_env(self, allocator.RANGE_ENV_VAR, '%d-%d' % self.two_free_ports())

    def two_free_ports(self):
        """Two neighbouring ports of the default candidate range that are bindable now."""
        import random
        import socket
        from testsupport import _config, _sockets, platform_shim
        platform = platform_shim.current()
        low, high = _config.default_range(platform.ephemeral_port_range())
        for _attempt in range(100):
            port = random.randrange(low, high)
            if all(_sockets.bind_error(socket.AF_INET, socket.SOCK_STREAM, None, p, platform,
                                       'test') is None for p in (port, port + 1)):
                break
        return port, port + 1

    def test_a_port_handed_out_before_is_never_returned_again(self):
        import socket
        factory = pytest_plugin._PortFactory(socket.SOCK_STREAM)
        self.addCleanup(factory.release_all)
        first, second = factory(), factory()
        # The lease on the first ends early (as when it ran out): the range's only
        # free port is one the factory has produced, so it has none to give.
        self.allocator.release_port(first)
        with self.assertRaises(self.allocator.NoFreePortError):
            factory()
        # The repeat it held meanwhile was given back.
        self.assertEqual(self.allocator.reserve_port(), first)
        self.allocator.release_port(first)
        factory.release_all()
        self.assertEqual(factory.held, [])
        self.assertEqual(factory.produced, set([first, second]))


USE_TESTS = '''
import os

from testsupport import support


def test_network():
    support.requires('network')


def test_environment_seen():
    print('TESTSUPPORT_USE=%r' % os.environ.get('TESTSUPPORT_USE'))
'''


@needs_pytest
class UseOptionTest(PytestRunMixin, unittest.TestCase):

    def test_without_use_resource_skipped_with_hint(self):
        output = self.assertOutcome(self.run_pytest({'test_use.py': USE_TESTS}), 0,
                                    passed=1, skipped=1)
        self.assertIn("Use of the 'network' resource not enabled; set TESTSUPPORT_USE=network "
                      "(or pass --use=network to pytest) to run this test", output)

    def test_use_enables_resource(self):
        self.assertOutcome(self.run_pytest({'test_use.py': USE_TESTS}, ['--use=cpu,network']),
                           0, passed=2)

    def test_use_repeated_options_joined(self):
        self.assertOutcome(self.run_pytest({'test_use.py': USE_TESTS},
                                           ['--use=cpu', '--use', 'network']), 0, passed=2)

    def test_use_replaces_environment(self):
        result = self.run_pytest({'test_use.py': USE_TESTS}, ['--use=all,-network'],
                                 env={support.USE_ENV_VAR: 'network'})
        self.assertOutcome(result, 0, passed=1, skipped=1)

    def test_environment_alone_enables_resource(self):
        result = self.run_pytest({'test_use.py': USE_TESTS}, env={support.USE_ENV_VAR: 'all'})
        self.assertOutcome(result, 0, passed=2)

    def test_unknown_resource_in_option_is_a_usage_error(self):
        status, output = self.run_pytest({'test_use.py': USE_TESTS}, ['--use=netwrk'])
        self.assertEqual(status, 4, output)  # pytest's usage error, before any test runs
        self.assertIn("ERROR: --use=netwrk: 'netwrk' is not a resource name (did you mean "
                      "'network'?); known resources: %s; also all, none, and -NAME to leave "
                      "one out, e.g. --use=network or --use=all,-cpu"
                      % ', '.join(support.RESOURCE_NAMES), output)
        self.assertNotIn('passed', output)

    def test_unknown_resource_in_environment_is_a_usage_error(self):
        status, output = self.run_pytest({'test_use.py': USE_TESTS},
                                         env={support.USE_ENV_VAR: 'all,-netwrk'})
        self.assertEqual(status, 4, output)
        self.assertIn("ERROR: TESTSUPPORT_USE is 'all,-netwrk': 'netwrk' is not a resource "
                      "name (did you mean 'network'?); known resources: audio, ", output)
        self.assertIn('e.g. TESTSUPPORT_USE=network or TESTSUPPORT_USE=all,-cpu', output)

    def test_option_replaces_a_bad_environment(self):
        result = self.run_pytest({'test_use.py': USE_TESTS}, ['--use=network'],
                                 env={support.USE_ENV_VAR: 'netwrk'})
        self.assertOutcome(result, 0, passed=2)

    def test_requires_skip_reported_at_the_test(self):
        output = self.assertOutcome(self.run_pytest({'test_use.py': USE_TESTS}), 0,
                                    passed=1, skipped=1)
        self.assertIn("SKIPPED [1] test_use.py:%d: Use of the 'network' resource not enabled"
                      % line_of(USE_TESTS, 'def test_network():'), output)

    @needs_xdist
    def test_use_reaches_xdist_workers(self):
        result = self.run_pytest({'test_use.py': USE_TESTS},
                                 ['-n', '2', '-p', 'xdist', '--use=network', '-s'])
        self.assertOutcome(result, 0, passed=2)


SKIP_TESTS = '''
import unittest

import pytest

from testsupport import support


@pytest.fixture
def network():
    support.requires('network')


def test_fixture_requires(network):
    pass


def test_resource_denied():
    raise support.ResourceDenied('no printer here')


def test_skip_test():
    raise unittest.SkipTest('plain unittest skip')


def test_pytest_skip_keeps_its_line():
    pytest.skip('where pytest.skip was called')


class TestCaseStyle(unittest.TestCase):
    def test_requires(self):
        support.requires('network')
'''


@needs_pytest
class SkipLocationTest(PytestRunMixin, unittest.TestCase):
    """``-rs`` shows a SkipTest at the test, not in pytest's ``_pytest/unittest.py``."""

    def test_each_skip_at_its_test(self):
        output = self.assertOutcome(self.run_pytest({'test_skips.py': SKIP_TESTS}), 0,
                                    skipped=5)
        for text, line in (
                ("Use of the 'network' resource not enabled",
                 'def test_fixture_requires(network):'),
                ('no printer here', 'def test_resource_denied():'),
                ('plain unittest skip', 'def test_skip_test():'),
                ("Use of the 'network' resource not enabled", '    def test_requires(self):')):
            self.assertIn('SKIPPED [1] test_skips.py:%d: %s' % (line_of(SKIP_TESTS, line), text),
                          output)
        # pytest.skip() is left alone: pytest reports it where it was called (pytest 4.6
        # with the absolute path, one line further down).
        called = [line for line in output.splitlines() if 'where pytest.skip was called' in line]
        self.assertEqual(len(called), 1, output)
        self.assertIn('test_skips.py:', called[0])
        skipped = [line for line in output.splitlines() if line.startswith('SKIPPED')]
        self.assertEqual([line for line in skipped if '_pytest' in line], [], output)

    def test_line_base_matches_this_pytest(self):
        version = pytest_plugin._pytest_version()
        self.assertEqual(pytest_plugin._SKIP_LINE_BASE, 0 if version < (5, 3) else 1)
        self.assertEqual(len(version), 2)


@needs_pytest
class UseProblemTest(unittest.TestCase):
    """The usage error for resource names regrtest does not know."""

    KNOWN = ', '.join(support.RESOURCE_NAMES)

    def test_known_names_and_syntax_pass(self):
        for use, env in ((None, None), (None, ''), (None, ' '), (['network'], 'bogus'),
                         (['all,-cpu', 'none'], None), (None, 'ALL, -Network urlfetch'),
                         (None, ','.join(support.RESOURCE_NAMES)), ([], None)):
            self.assertIsNone(pytest_plugin._use_problem(use, env), (use, env))

    def test_option_message(self):
        self.assertEqual(
            pytest_plugin._use_problem(['cpu', 'netwrk,-gpu'], None),
            "--use=cpu,netwrk,-gpu: 'netwrk', 'gpu' are not resource names (did you mean "
            "'network' or 'gui'?); known resources: %s; also all, none, and -NAME to leave "
            "one out, e.g. --use=network or --use=all,-cpu" % self.KNOWN)

    def test_environment_message_without_a_close_name(self):
        self.assertEqual(
            pytest_plugin._use_problem(None, 'xyzzy'),
            "TESTSUPPORT_USE is 'xyzzy': 'xyzzy' is not a resource name (regrtest knows no "
            "such resource); known resources: %s; also all, none, and -NAME to leave one out, "
            "e.g. TESTSUPPORT_USE=network or TESTSUPPORT_USE=all,-cpu" % self.KNOWN)

    def test_names_are_regrtests(self):
        self.assertEqual(list(support.RESOURCE_NAMES), sorted(support.RESOURCE_NAMES))
        for name in ('audio', 'cpu', 'curses', 'decimal', 'gui', 'largefile', 'network',
                     'subprocess', 'urlfetch', 'extralargefile', 'tzdata', 'walltime'):
            self.assertIn(name, support.RESOURCE_NAMES)


class _FakePluginManager(object):
    def __init__(self):
        self.registered = {}

    def has_plugin(self, name):
        return name in self.registered

    def register(self, plugin, name):
        self.registered[name] = plugin


class _FakeConfig(object):
    def __init__(self, use):
        self.use = use
        self.lines = []
        self.pluginmanager = _FakePluginManager()

    def getoption(self, name):
        assert name == 'testsupport_use', name
        return self.use

    def addinivalue_line(self, name, line):
        self.lines.append((name, line))


@needs_pytest
class ConfigureTest(unittest.TestCase):

    def setUp(self):
        save_env(self, support.USE_ENV_VAR)

    def test_unconfigure_restores_previous_value(self):
        os.environ[support.USE_ENV_VAR] = 'cpu'
        config = _FakeConfig(['network', 'urlfetch'])
        pytest_plugin.pytest_configure(config)
        self.assertEqual(os.environ[support.USE_ENV_VAR], 'network,urlfetch')
        pytest_plugin.pytest_unconfigure(config)
        self.assertEqual(os.environ[support.USE_ENV_VAR], 'cpu')

    def test_unconfigure_removes_variable_it_added(self):
        os.environ.pop(support.USE_ENV_VAR, None)
        config = _FakeConfig(['network'])
        pytest_plugin.pytest_configure(config)
        pytest_plugin.pytest_unconfigure(config)
        self.assertNotIn(support.USE_ENV_VAR, os.environ)

    def test_without_option_environment_untouched(self):
        os.environ[support.USE_ENV_VAR] = 'cpu'
        config = _FakeConfig(None)
        pytest_plugin.pytest_configure(config)
        pytest_plugin.pytest_unconfigure(config)
        self.assertEqual(os.environ[support.USE_ENV_VAR], 'cpu')

    def test_bad_environment_refused_before_anything_changes(self):
        os.environ[support.USE_ENV_VAR] = 'netwrk'
        config = _FakeConfig(None)
        with self.assertRaises(pytest.UsageError) as cm:
            pytest_plugin.pytest_configure(config)
        self.assertIn("TESTSUPPORT_USE is 'netwrk'", str(cm.exception))
        self.assertEqual((config.lines, config.pluginmanager.registered), ([], {}))
        self.assertEqual(os.environ[support.USE_ENV_VAR], 'netwrk')

    def test_bad_option_leaves_environment_alone(self):
        os.environ[support.USE_ENV_VAR] = 'cpu'
        config = _FakeConfig(['netwrk'])
        with self.assertRaises(pytest.UsageError):
            pytest_plugin.pytest_configure(config)
        pytest_plugin.pytest_unconfigure(config)
        self.assertEqual(os.environ[support.USE_ENV_VAR], 'cpu')

    def test_configure_twice_registers_fixtures_once(self):
        config = _FakeConfig(None)
        pytest_plugin.pytest_configure(config)
        pytest_plugin.pytest_configure(config)
        self.assertEqual(list(config.pluginmanager.registered), ['testsupport-fixtures'])
        self.assertEqual(len(config.lines), 4)


RIVAL_PLUGIN = '''
import pytest


@pytest.fixture
def unused_tcp_port():
    return 1


@pytest.fixture(scope='session')
def unused_tcp_port_factory():
    return lambda: 1
'''

RIVAL_TESTS = '''
def test_ours_win(unused_tcp_port, unused_tcp_port_factory):
    assert unused_tcp_port != 1
    assert unused_tcp_port_factory() != 1
'''

CONFTEST_OVERRIDE = '''
import pytest


@pytest.fixture
def unused_tcp_port():
    return 2
'''


@needs_pytest
class NameClashTest(PytestRunMixin, unittest.TestCase):

    def test_ours_win_over_plugin_loaded_earlier(self):
        files = {'rival_plugin.py': RIVAL_PLUGIN, 'test_rival.py': RIVAL_TESTS}
        self.assertOutcome(self.run_pytest(files, ['-p', 'rival_plugin']), 0, passed=1)

    def test_ours_win_over_plugin_loaded_later(self):
        files = {'rival_plugin.py': RIVAL_PLUGIN, 'test_rival.py': RIVAL_TESTS}
        args = ['-p', 'no:testsupport', '-p', 'testsupport.pytest_plugin', '-p', 'rival_plugin']
        self.assertOutcome(self.run_pytest(files, args, plugin_args=()), 0, passed=1)

    def test_conftest_still_overrides(self):
        files = {'conftest.py': CONFTEST_OVERRIDE,
                 'test_c.py': 'def test_c(unused_tcp_port):\n    assert unused_tcp_port == 2\n'}
        self.assertOutcome(self.run_pytest(files), 0, passed=1)

    def test_ours_win_over_pytest_asyncio(self):
        try:
            import pytest_asyncio  # noqa: F401
        except ImportError:
            self.skipTest('pytest-asyncio is not installed for this Python')
        files = {'test_a.py': '''
            from testsupport import _ports

            def test_a(unused_tcp_port, unused_tcp_port_factory):
                assert unused_tcp_port in _ports.current().unreleased()
                assert unused_tcp_port_factory() in _ports.current().unreleased()
            '''}
        self.assertOutcome(self.run_pytest(files, ['-p', 'pytest_asyncio']), 0, passed=1)


ENTRY_POINT_TESTS = '''
def test_fixture(unused_tcp_port):
    assert unused_tcp_port > 0
'''


@needs_pytest
class EntryPointTest(PytestRunMixin, unittest.TestCase):
    """The plugin as installed: a distribution declaring ``testsupport = testsupport.pytest_plugin``."""

    def run_with_entry_point(self, plugin_args):
        distribution = 'testsupport_entry_point_check-0.0.dist-info'
        files = {'test_ep.py': ENTRY_POINT_TESTS}
        directory = self.make_dir({})
        dist_info = os.path.join(directory, distribution)
        os.mkdir(dist_info)
        for name, text in (('METADATA', 'Metadata-Version: 2.1\nName: '
                                        'testsupport-entry-point-check\nVersion: 0.0\n'),
                           ('entry_points.txt', '[pytest11]\ntestsupport = '
                                                'testsupport.pytest_plugin\n'),
                           ('RECORD', '')):
            with open(os.path.join(dist_info, name), 'w') as fp:
                fp.write(text)
        return self.run_pytest(files, plugin_args=plugin_args,
                               env={'PYTHONPATH': os.pathsep.join([directory, PACKAGE_PARENT])})

    def test_entry_point_alone_loads_plugin(self):
        self.assertOutcome(self.run_with_entry_point([]), 0, passed=1)

    def test_p_with_entry_point_name_loads_once(self):
        self.assertOutcome(self.run_with_entry_point(['-p', 'testsupport']), 0, passed=1)

    def test_p_with_module_name_and_entry_point_clash(self):
        status, output = self.run_with_entry_point(['-p', 'testsupport.pytest_plugin'])
        self.assertNotEqual(status, 0, output)
        self.assertIn('Plugin already registered', output)


XDIST_SERVER_TEST = '''
import contextlib
import importlib
import socket

import pytest

from testsupport import _compat

socketserver = importlib.import_module(_compat.socketserver_name)


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.sendall(self.request.recv(100))


class Server(socketserver.TCPServer):
    allow_reuse_address = False  # as tests should: a port in use must fail


@pytest.mark.parametrize('n', range(%(count)d))
def test_server(n, unused_tcp_port, start_server_thread):
    served = start_server_thread(Server(('127.0.0.1', unused_tcp_port), Echo))
    client = socket.create_connection(served.address, 10)
    with contextlib.closing(client):
        client.sendall(b'x')
        assert client.recv(10) == b'x'
'''


@needs_pytest
@needs_xdist
class XdistServersTest(PytestRunMixin, unittest.TestCase):
    """A small version of benchmarks/bench_xdist.py: no address-in-use error under -n 4."""

    def test_servers_on_allocated_ports_never_collide(self):
        count = 200
        result = self.run_pytest({'test_many.py': XDIST_SERVER_TEST % {'count': count}},
                                 ['-n', '4', '-p', 'xdist'])
        output = self.assertOutcome(result, 0, passed=count)
        self.assertNotIn('Address already in use', output)


class OutcomeParserTest(unittest.TestCase):

    def test_pytest_4_line(self):
        self.assertEqual(outcome('x\n===== 2 passed, 1 skipped in 0.03 seconds =====\n'),
                         {'passed': 2, 'skipped': 1})

    def test_pytest_7_line_with_errors(self):
        self.assertEqual(outcome('== 1 failed, 3 passed, 2 errors in 1.20s ==\n'),
                         {'failed': 1, 'passed': 3, 'error': 2})

    def test_no_line(self):
        self.assertEqual(outcome('ERROR: usage\n'), {})

