"""Runs examples/legacy_suite.py the way its users would, in a subprocess."""
from __future__ import absolute_import, division, print_function

import os
import subprocess
import sys
import unittest

import testsupport
from testsupport import _compat, socket_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, 'examples')
# Where testsupport comes from: the source tree, or site-packages when installed.
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(testsupport.__file__)))


def example_env():
    env = dict(os.environ)
    env['PYTHONDONTWRITEBYTECODE'] = '1'  # leave examples/ as it is
    env['PYTHONPATH'] = os.pathsep.join([PACKAGE_PARENT, env.get('PYTHONPATH', '')]).rstrip(
        os.pathsep)
    for name in ('http_proxy', 'HTTP_PROXY', 'all_proxy', 'ALL_PROXY'):
        env.pop(name, None)  # urlopen() must reach 127.0.0.1 directly
    return env


class LegacySuiteTest(unittest.TestCase):
    def test_passes_under_python_m_unittest(self):
        warnings = [] if _compat.PY2 else ['-W', 'error::ResourceWarning']
        proc = subprocess.Popen(
            [sys.executable] + warnings + ['-m', 'unittest', '-v', 'legacy_suite'],
            cwd=EXAMPLES, env=example_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            universal_newlines=True)
        output = proc.communicate()[0]
        self.assertEqual(proc.returncode, 0, output)
        self.assertIn('Ran 5 tests', output)
        self.assertNotIn('ResourceWarning', output)
        if socket_helper.IPV6_ENABLED:
            self.assertIn('\nOK\n', output)
        else:
            self.assertIn('skipped', output)

    def test_ipv6_tests_skip_cleanly_without_ipv6(self):
        sys.path.insert(0, EXAMPLES)
        self.addCleanup(sys.path.remove, EXAMPLES)
        self.addCleanup(setattr, sys, 'dont_write_bytecode', sys.dont_write_bytecode)
        sys.dont_write_bytecode = True
        import legacy_suite
        self.addCleanup(setattr, socket_helper, 'IPV6_ENABLED', socket_helper.IPV6_ENABLED)
        socket_helper.IPV6_ENABLED = False
        result = unittest.TestResult()
        unittest.defaultTestLoader.loadTestsFromTestCase(legacy_suite.IPv6EchoTest).run(result)
        self.assertEqual(result.testsRun, 2)
        self.assertEqual([reason for _, reason in result.skipped], 2 * [
            'requires IPv6: this host cannot bind ::1 (socket_helper.IPV6_ENABLED is False)'])
        self.assertTrue(result.wasSuccessful())
