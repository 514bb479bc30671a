"""pytest plugin for testsupport (registered through the ``pytest11`` entry point).

The only module of testsupport that imports pytest; pytest loads it, nothing
else does. It adds:

- the fixtures ``unused_tcp_port``, ``unused_udp_port``,
  ``unused_tcp_port_factory`` and ``unused_udp_port_factory``, with
  pytest-asyncio's names and semantics, backed by the collision-free allocator
  (:mod:`testsupport.allocator`): a port is leased until the fixture's
  teardown, so no other test, worker or process is handed it meanwhile;
- ``tcp_listener``, ``udp_socket``, ``unix_socket_path``,
  ``start_server_thread`` and ``start_server_process``: the mixin's
  conveniences, made by :mod:`testsupport.servers` and closed, removed or
  stopped at teardown;
- the markers ``requires_ipv6`` and ``requires_unix_socket``, which skip a test
  where IPv6 on loopback or AF_UNIX binds do not work, naming the reason;
- the option ``--use=RESOURCE[,RESOURCE]``, which sets ``TESTSUPPORT_USE`` for
  the run (before pytest-xdist starts its workers, which inherit it), so that
  ``requires('network')`` and ``transient_internet`` decide the same way under
  pytest and unittest. A name that is not one of regrtest's
  (:data:`testsupport.support.RESOURCE_NAMES`), in ``--use`` or in
  ``TESTSUPPORT_USE``, stops the run with a usage error listing them;
- skips at the test's own location: ``pytest -rs`` reports a skip by these
  markers, or by a :class:`unittest.SkipTest` (``requires()``,
  ``ResourceDenied``, the ``skip_unless_*`` decorators) raised in a test
  function or its fixtures, at ``test_file.py:LINE`` of the test, not inside
  pytest's own code where it turns them into skips.

The fixtures are registered from ``pytest_configure``, after every plugin that
an entry point or ``-p`` loads, so when pytest-asyncio (or any other plugin)
defines the same fixture names, testsupport's win; a ``conftest.py`` fixture
still overrides them, as usual.

.. versionadded:: 0.1.0
"""
from __future__ import absolute_import, division, print_function

import difflib
import os
import re
import socket
import types
import unittest

import pytest

from . import _sockets, allocator, platform_shim, server_process, servers, socket_helper, support

__all__ = [
    'pytest_addoption',
    'pytest_configure',
    'pytest_runtest_makereport',
    'pytest_runtest_setup',
    'pytest_unconfigure',
]

#: The name the fixtures are registered under (``-p no:...`` cannot block it
#: alone; block the plugin itself with ``-p no:testsupport``).
_FIXTURES_PLUGIN_NAME = 'testsupport-fixtures'

_MARKERS = (
    ('requires_ipv6', 'requires_ipv6: skip the test unless IPv6 works on loopback (::1).'),
    ('requires_unix_socket', 'requires_unix_socket: skip the test unless AF_UNIX sockets '
                             'can be bound here.'),
)

_NOT_SET = object()

#: The node ids of the tests a marker is skipping, until their setup is reported.
_MARKER_SKIPS = set()


def _pytest_version():
    """``(major, minor)`` of the pytest running, e.g. ``(4, 6)``."""
    return tuple(int(part) for part in re.findall(r'\d+', pytest.__version__)[:2])


#: What a skip report's line number counts from: pytest before 5.3 stores the
#: line 0-based and adds 1 when it prints; 5.3 and later store it as printed.
_SKIP_LINE_BASE = 1 if _pytest_version() >= (5, 3) else 0


def pytest_addoption(parser):
    group = parser.getgroup('testsupport', 'testsupport socket helpers')
    group.addoption(
        '--use', action='append', dest='testsupport_use', default=None,
        metavar='RESOURCE[,RESOURCE]',
        help='enable resources for requires() and transient_internet(), e.g. "network" or '
             '"all,-cpu"; sets %s for this run, replacing its value (repeatable: values '
             'are joined with commas)' % support.USE_ENV_VAR)


def pytest_configure(config):
    use = config.getoption('testsupport_use')
    problem = _use_problem(use, os.environ.get(support.USE_ENV_VAR))
    if problem:
        raise pytest.UsageError(problem)
    for _name, line in _MARKERS:
        config.addinivalue_line('markers', line)
    if use is not None and not hasattr(config, '_testsupport_saved_use'):
        config._testsupport_saved_use = os.environ.get(support.USE_ENV_VAR, _NOT_SET)
        os.environ[support.USE_ENV_VAR] = ','.join(use)
    if not config.pluginmanager.has_plugin(_FIXTURES_PLUGIN_NAME):
        config.pluginmanager.register(_make_fixtures_plugin(), _FIXTURES_PLUGIN_NAME)


def pytest_unconfigure(config):
    saved = getattr(config, '_testsupport_saved_use', None)
    if saved is None:
        return
    del config._testsupport_saved_use
    if saved is _NOT_SET:
        os.environ.pop(support.USE_ENV_VAR, None)
    else:
        os.environ[support.USE_ENV_VAR] = saved


def _use_problem(use, environ_value):
    """None, or the usage error for the names regrtest does not know.

    *use* is the list of ``--use`` values (None without the option, which then
    decides alone), *environ_value* that of ``TESTSUPPORT_USE``.
    """
    if use is not None:
        value = ','.join(use)
        source, example = '--use=%s' % value, '--use='
    elif environ_value and environ_value.strip():
        value = environ_value
        source, example = '%s is %r' % (support.USE_ENV_VAR, value), support.USE_ENV_VAR + '='
    else:
        return None
    unknown = _unknown_resources(value)
    if not unknown:
        return None
    guesses = []
    for name in unknown:
        guesses.extend('%r' % close for close in difflib.get_close_matches(
            name, support.RESOURCE_NAMES, 1) if '%r' % close not in guesses)
    return ('%s: %s %s (%s); known resources: %s; also all, none, and -NAME to leave one '
            'out, e.g. %snetwork or %sall,-cpu'
            % (source, ', '.join(repr(name) for name in unknown),
               'is not a resource name' if len(unknown) == 1 else 'are not resource names',
               ('did you mean %s?' % ' or '.join(guesses)) if guesses
               else 'regrtest knows no such resource',
               ', '.join(support.RESOURCE_NAMES), example, example))


def _unknown_resources(value):
    """The names in a ``TESTSUPPORT_USE`` value (``"all,-cpu"``) that are not in RESOURCE_NAMES."""
    unknown = []
    for item in value.replace(' ', ',').split(','):  # support.is_resource_enabled()'s syntax
        item = item.strip().lower()
        name = item[1:] if item.startswith('-') else item
        if (item and name not in ('all', 'none') and name not in support.RESOURCE_NAMES
                and name not in unknown):
            unknown.append(name)
    return unknown


def pytest_runtest_setup(item):
    for name, _line in _MARKERS:
        if item.get_closest_marker(name) is not None:
            reason = _marker_skip_reason(name)
            if reason:
                _MARKER_SKIPS.add(item.nodeid)
                pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Report a skip by a marker or a unittest.SkipTest at the test's own location.

    pytest turns a SkipTest raised outside a unittest.TestCase into a skip
    raised in its own code (``_pytest/unittest.py``), and a hook's skip is
    located in the hook: both would point ``pytest -rs`` away from the test.
    """
    ours = call.when == 'setup' and item.nodeid in _MARKER_SKIPS
    _MARKER_SKIPS.discard(item.nodeid)
    relocate = call.excinfo is not None and (
        ours or isinstance(call.excinfo.value, unittest.SkipTest))
    outcome = yield
    if not relocate:
        return
    report = outcome.get_result()
    path, line = item.location[:2]
    if (report.skipped and isinstance(report.longrepr, tuple) and len(report.longrepr) == 3
            and line is not None):
        report.longrepr = (path, line + _SKIP_LINE_BASE, report.longrepr[2])


def _marker_skip_reason(name):
    if name == 'requires_ipv6':
        return _ipv6_skip_reason(socket_helper.IPV6_ENABLED, _sockets.probe_bind)
    return _unix_skip_reason(_sockets.unix_bind_problem(platform_shim.current()))


def _ipv6_skip_reason(enabled, probe_bind):
    """None if IPv6 works, else why not (the error binding ``::1``)."""
    if enabled:
        return None
    if not socket.has_ipv6:
        cause = 'Python was built without IPv6 (socket.has_ipv6 is False)'
    else:
        cause = 'bind((%r, 0)) failed: %s' % (socket_helper.HOSTv6,
                                              probe_bind(socket.AF_INET6,
                                                         (socket_helper.HOSTv6, 0)))
    return 'requires_ipv6: IPv6 does not work on loopback here: %s' % cause


def _unix_skip_reason(probe_reason):
    """None if AF_UNIX binds work, else the probe's reason, prefixed by the marker."""
    if probe_reason is None:
        return None
    return 'requires_unix_socket: %s' % probe_reason


class _PortFactory(object):
    """``factory() -> int``: a leased port on every call, never the same one twice.

    Leases end at :meth:`release_all` (the fixture's teardown) or when the
    allocator's lease time (``TESTSUPPORT_PORT_LEASE``, 60 s) runs out, after
    which the allocator may offer a port again: *produced* remembers every port
    handed out, so that even then none is returned twice (pytest-asyncio's
    guarantee).
    """

    def __init__(self, socktype):
        self.socktype = socktype
        self.produced = set()
        self.held = []

    def __call__(self):
        repeats = []
        try:
            while True:
                port = allocator.reserve_port(socket.AF_INET, self.socktype)
                if port not in self.produced:
                    break
                repeats.append(port)  # held until we have a new one, so not offered again
        finally:
            for repeat in repeats:
                _release(repeat)
        self.produced.add(port)
        self.held.append(port)
        return port

    def release_all(self):
        while self.held:
            _release(self.held.pop())


def _release(port):
    try:
        allocator.release_port(port)
    except ValueError:
        # The lease ran out long ago and its block went to another process: the
        # port is no longer ours, which is what releasing it was for.
        pass


def _port_fixture(name, socktype, scope, doc):
    """One of the four port fixtures: a port (function scope) or the factory (session)."""

    def fixture():
        factory = _PortFactory(socktype)
        try:
            yield factory() if scope == 'function' else factory
        finally:
            factory.release_all()

    fixture.__name__ = name
    fixture.__doc__ = doc
    return pytest.fixture(scope=scope, name=name)(fixture)


def _make_fixtures_plugin():
    """The fixtures, in a module object of their own that pytest_configure registers.

    Kept out of this module's namespace so that registering this module (by the
    entry point or ``-p``) does not register them early, in an order that
    depends on how plugins were loaded.
    """
    plugin = types.ModuleType('testsupport.pytest_plugin.fixtures')

    unused_tcp_port = _port_fixture(
        'unused_tcp_port', socket.SOCK_STREAM, 'function',
        """A TCP port on loopback, leased to this test until its teardown.""")
    unused_udp_port = _port_fixture(
        'unused_udp_port', socket.SOCK_DGRAM, 'function',
        """A UDP port on loopback, leased to this test until its teardown.""")
    unused_tcp_port_factory = _port_fixture(
        'unused_tcp_port_factory', socket.SOCK_STREAM, 'session',
        """``factory() -> int``: a different TCP port on every call in the session.

        Session-scoped as in pytest-asyncio; the ports stay leased until the
        session ends.
        """)
    unused_udp_port_factory = _port_fixture(
        'unused_udp_port_factory', socket.SOCK_DGRAM, 'session',
        """``factory() -> int``: a different UDP port on every call in the session.""")

    @pytest.fixture
    def tcp_listener():
        """A listening TCP socket on ``HOST`` (``servers.make_listener()``), closed at teardown."""
        sock = servers.make_listener()
        try:
            yield sock
        finally:
            sock.close()

    @pytest.fixture
    def udp_socket():
        """A UDP socket bound to a free port on ``HOST``, closed at teardown."""
        sock = servers.make_udp_socket()
        try:
            yield sock
        finally:
            sock.close()

    @pytest.fixture
    def unix_socket_path():
        """A fresh AF_UNIX path in a new private directory, removed at teardown.

        The file does not exist yet: ``bind()`` (or ``bind_unix_socket()``)
        creates it.
        """
        path, directory = servers.unix_socket_path()
        try:
            yield path
        finally:
            servers.remove_unix_socket_dir(directory)

    @pytest.fixture
    def start_server_thread():
        """``start_server_thread(server, poll_interval=...) -> ServerThread``, stopped at teardown.

        Serves a ``socketserver`` server in a daemon thread, as
        ``servers.start_server_thread`` does; every server started through it is
        stopped (newest first) when the test ends, and a server that does not
        stop fails the teardown with ``servers.ServerStopError``.
        """
        started = []

        def start(server, poll_interval=servers.DEFAULT_POLL_INTERVAL):
            served = servers.start_server_thread(server, poll_interval)
            started.append(served)
            return served

        try:
            yield start
        finally:
            _stop_all(started)

    @pytest.fixture
    def start_server_process():
        """``start_server_process(argv, mode='inherit', ...) -> ServerProcess``, stopped at teardown.

        Starts a server in a child process as ``server_process.start_server_process``
        does (modes ``'inherit'``, ``'discover'``, ``'lease'``); when the test
        ends, whatever its outcome, every child started through it has its
        process group terminated (killed after 5 s) and reaped, newest first.
        """
        started = []

        def start(argv, mode='inherit', host=None, family=socket.AF_INET, env=None, cwd=None,
                  timeout=None):
            server = server_process.start_server_process(argv, mode, host, family, env, cwd,
                                                         timeout)
            started.append(server)
            return server

        try:
            yield start
        finally:
            _stop_all(started)

    for fixture in (unused_tcp_port,
                    unused_udp_port,
                    unused_tcp_port_factory,
                    unused_udp_port_factory,
                    tcp_listener,
                    udp_socket,
                    unix_socket_path,
                    start_server_thread,
                    start_server_process):
        setattr(plugin, fixture.__name__, fixture)
    return plugin


def _stop_all(started):
    """Stop every ServerThread (or ServerProcess) in *started*, newest first; then raise the first error."""
    errors = []
    while started:
        try:
            started.pop().stop()
        except Exception as exc:  # the others must still be stopped
            errors.append(exc)
    if errors:
        raise errors[0]
