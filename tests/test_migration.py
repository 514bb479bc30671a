"""Each historical spelling of the socket helpers has a one-line replacement (#9).

A suite that wrote ``from test import test_support`` (2.7), ``from test import
support`` (3.6-3.8) or ``from test.support import socket_helper`` (3.9+) and then
``support.bind_port(...)`` keeps working after that one line becomes ``import
testsupport as test_support``, ``import testsupport as support`` or ``from
testsupport import socket_helper``. Checked twice: against lists pinned from
CPython 2.7.18, 3.6.15-3.8.18 and 3.9.18-3.13.0 (runs everywhere), and against
this interpreter's own module when it has one.
"""
from __future__ import absolute_import, division, print_function

import importlib
import types
import unittest

import testsupport
from testsupport import socket_helper

#: ``from test import test_support`` on 2.7 (the same module as ``test.support``).
TEST_SUPPORT_27 = [
    'HOST', 'HOSTv6', 'IPV6_ENABLED', 'ResourceDenied', 'SOCK_MAX_SIZE', 'TestFailed',
    'bind_port', 'find_unused_port', 'is_resource_enabled', 'requires', 'transient_internet',
]
#: ``from test import support`` on 3.6-3.8, where the socket helpers still lived.
TEST_SUPPORT_36_38 = TEST_SUPPORT_27 + [
    'HOSTv4', 'bind_unix_socket', 'get_socket_conn_refused_errs', 'skip_unless_bind_unix_socket',
]
#: ``from test import support`` on 3.9+: what socket suites still read from it.
TEST_SUPPORT_39_PLUS = [
    'INTERNET_TIMEOUT', 'LONG_TIMEOUT', 'LOOPBACK_TIMEOUT', 'ResourceDenied', 'SHORT_TIMEOUT',
    'SOCK_MAX_SIZE', 'TestFailed', 'is_resource_enabled', 'requires',
]
#: ``from test.support import socket_helper`` on 3.9-3.13: the whole module.
SOCKET_HELPER_39_PLUS = [
    'HOST', 'HOSTv4', 'HOSTv6', 'IPV6_ENABLED', 'bind_port', 'bind_unix_socket',
    'create_unix_domain_name', 'find_unused_port', 'get_socket_conn_refused_errs',
    'has_gethostname', 'skip_if_tcp_blackhole', 'skip_unless_bind_unix_socket', 'tcp_blackhole',
    'transient_internet',
]

#: (old statement, the module it imports, the replacement statement, the
#: replacement module, the names pinned for it). The README's "Migrating"
#: section shows the same three replacements (tests/test_readme.py runs them).
SPELLINGS = [
    ('from test import test_support', 'test.test_support',
     'import testsupport as test_support', testsupport, TEST_SUPPORT_27),
    ('from test import support', 'test.support',
     'import testsupport as support', testsupport,
     sorted(set(TEST_SUPPORT_36_38 + TEST_SUPPORT_39_PLUS))),
    ('from test.support import socket_helper', 'test.support.socket_helper',
     'from testsupport import socket_helper', socket_helper, SOCKET_HELPER_39_PLUS),
]

#: Socket-related names of some CPython's test.support that testsupport leaves
#: out on purpose, and why.
LEFT_OUT = {
    'TEST_HTTP_URL': 'the address of pythontest.net: testsupport never uses the internet',
    'has_socket_support': '3.11+, false only on WASI/Emscripten, which testsupport does not '
                          'support',
    'requires_working_socket': '3.11+, skips only where has_socket_support is false',
    'ioerror_peer_reset': 'a TransientResource (gone in 3.10); transient_internet() turns '
                          'the same errors into skips',
    'socket_peer_reset': 'a TransientResource (gone in 3.10), as ioerror_peer_reset',
    'time_out': 'a TransientResource (gone in 3.10), as ioerror_peer_reset',
    'unix_shell': 'the path of /bin/sh: not socket-related, though it says "unix"',
}

# A name is socket-related if one of its words is one of these, or it is one of
# the test.support names the socket helpers raise or consult.
_SOCKET_WORDS = set(['blackhole', 'gethostname', 'host', 'hostv4', 'hostv6', 'internet', 'ipv6',
                     'out', 'peer', 'port', 'sock', 'socket', 'timeout', 'unix', 'url'])
_SUPPORT_NAMES = set(['ResourceDenied', 'TestFailed', 'is_resource_enabled', 'requires'])


def socket_related(name):
    """True if *name* (of test.support or test_support) is about sockets or the network."""
    return name in _SUPPORT_NAMES or bool(_SOCKET_WORDS & set(name.lower().split('_')))


def interpreter_module(module_name):
    """This interpreter's module for a historical spelling, or None.

    Any exception on import counts as absent: a distribution without the test
    package, a project's own ``test`` package shadowing it, a module that fails.
    """
    try:
        module = importlib.import_module(module_name)
    except Exception:
        return None
    if module_name == 'test.test_support' and not hasattr(module, 'requires'):
        return None  # 3.x: the tests of test.support, not the 2.7 module
    return module


def offered_names(module_name, module):
    """The socket-related public names *module* offers."""
    names = [name for name in dir(module) if not name.startswith('_')
             and not isinstance(getattr(module, name), types.ModuleType)]
    if module_name.endswith('socket_helper'):
        return sorted(names)  # the module is the socket helpers: every name counts
    return sorted(name for name in names if socket_related(name))


class PinnedNamesTest(unittest.TestCase):
    """The replacements provide the pinned names, on every interpreter."""

    def check(self, index):
        _old, _name, new, replacement, pinned = SPELLINGS[index]
        missing = [name for name in pinned if not hasattr(replacement, name)]
        self.assertEqual(missing, [], '%s lacks these names' % new)
        unlisted = [name for name in pinned if name not in replacement.__all__]
        self.assertEqual(unlisted, [], '%s does not list these in __all__' % new)

    def test_import_testsupport_as_test_support_replaces_2_7s_test_support(self):
        self.check(0)

    def test_import_testsupport_as_support_replaces_test_support(self):
        self.check(1)

    def test_testsupport_socket_helper_replaces_test_support_socket_helper(self):
        self.check(2)

    def test_pinned_names_are_the_socket_related_ones(self):
        for name in TEST_SUPPORT_36_38 + TEST_SUPPORT_39_PLUS:
            self.assertTrue(socket_related(name), name)
        self.assertFalse(socket_related('import_module'))
        self.assertFalse(socket_related('TEST_SUPPORT_DIR'))

    def test_left_out_names_are_not_offered(self):
        # If one of them is added, move it from LEFT_OUT to a pinned list.
        for name in sorted(LEFT_OUT):
            self.assertFalse(hasattr(testsupport, name), name)
            self.assertFalse(hasattr(socket_helper, name), name)


class InterpreterModuleTest(unittest.TestCase):
    """The replacements provide what this interpreter's own module offers."""

    def check(self, index):
        old, module_name, new, replacement, _pinned = SPELLINGS[index]
        module = interpreter_module(module_name)
        if module is None:
            self.skipTest('%r does not import the socket helpers on this interpreter' % old)
        names = [n for n in offered_names(module_name, module) if n not in LEFT_OUT]
        self.assertTrue(names, 'no socket-related names found in %s' % module_name)
        missing = [name for name in names if not hasattr(replacement, name)]
        self.assertEqual(missing, [], '%r offers these, %r does not' % (old, new))
        for name in names:
            theirs, ours = getattr(module, name), getattr(replacement, name)
            if isinstance(theirs, type):
                self.assertTrue(isinstance(ours, type), name)
                for base in (unittest.SkipTest, Exception):
                    self.assertEqual(issubclass(ours, base), issubclass(theirs, base),
                                     '%s and %s.%s differ' % (name, module_name, name))
            elif callable(theirs):
                self.assertTrue(callable(ours), name)
            else:
                self.assertIs(type(ours), type(theirs), name)

    def test_from_test_import_test_support(self):
        self.check(0)

    def test_from_test_import_support(self):
        self.check(1)

    def test_from_test_support_import_socket_helper(self):
        self.check(2)
