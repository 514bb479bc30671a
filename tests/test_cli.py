"""Tests for the command line: ``_cli.main([...])`` and one real ``python -m testsupport``."""
from __future__ import absolute_import, division, print_function

import json
import os
import platform
import subprocess
import sys
import unittest

import testsupport
from testsupport import socket_helper
from tests.helpers import run_main, set_env


class InfoTest(unittest.TestCase):

    def test_text_report_names_each_fact(self):
        status, out, _ = run_main(['info'])
        self.assertEqual(status, 0)
        for key in ('testsupport:', 'python:', 'platform:', 'ipv6:', 'af_unix_bind:',
                    'so_reuseport:', 'so_exclusiveaddruse:', 'ephemeral_port_range:',
                    'tcp_blackhole:', 'free_tcp_port:'):
            self.assertIn(key, out)
        self.assertIn('testsupport:           %s\n' % testsupport.__version__, out)
        self.assertIn('ipv6:                  %s\n'
                      % ('yes' if socket_helper.IPV6_ENABLED else 'no'), out)

    def test_python_line_names_implementation_and_version(self):
        # "python: PyPy 3.11.17 (...)": a PyPy's language version alone reads as CPython's.
        status, out, _ = run_main(['info'])
        self.assertEqual(status, 0)
        self.assertIn('python:                %s %s (%s)\n'
                      % (platform.python_implementation(), platform.python_version(),
                         sys.executable), out)

    def test_json_report(self):
        status, out, _ = run_main(['info', '--json'])
        self.assertEqual(status, 0)
        data = json.loads(out)
        self.assertEqual(data['testsupport'], testsupport.__version__)
        self.assertEqual(data['host'], '127.0.0.1')
        self.assertIs(data['ipv6'], socket_helper.IPV6_ENABLED)
        low, high = data['ephemeral_port_range']
        self.assertTrue(0 < low <= high <= 65535)
        self.assertTrue(0 < data['free_tcp_port'] <= 65535)

    def test_reports_the_allocator_settings(self):
        status, out, _ = run_main(['info', '--json'])
        data = json.loads(out)
        self.assertEqual(data['port_strategy'], 'registry')
        self.assertIn(data['port_store'].split()[0], ('kernel', 'files', 'memory'))
        self.assertIn(data['port_unit'], ('block', 'port', 'kernel'))
        self.assertGreater(data['port_lease_seconds'], 0)
        low, high = data['port_range']
        self.assertTrue(1024 <= low <= high < data['ephemeral_port_range'][0]
                        or high > data['ephemeral_port_range'][1])

    def test_bad_port_variable_is_reported_with_status_1(self):
        set_env(self, 'TESTSUPPORT_PORT_RANGE', 'bogus')
        status, out, _ = run_main(['info'])
        self.assertEqual(status, 1)
        message = ("TESTSUPPORT_PORT_RANGE is 'bogus'; expected LOW-HIGH with 1 <= LOW <= "
                   "HIGH <= 65535, e.g. 20000-29999")
        self.assertIn('port_config_error:     ' + message, out)
        self.assertIn('free_tcp_port:         error: ' + message, out)

    def test_no_command_is_a_usage_error_naming_the_commands(self):
        status, out, err = run_main([])
        self.assertEqual((status, out), (2, ''))
        self.assertIn('python -m testsupport: error: name a command: "info", "port" or "release"',
                      err)

    def test_unknown_command_is_a_usage_error(self):
        status, _, _ = run_main(['frobnicate'])
        self.assertEqual(status, 2)

    def test_help_exits_zero(self):
        devnull = open(os.devnull, 'w')
        self.addCleanup(devnull.close)
        old = sys.stdout
        sys.stdout = devnull
        try:
            status, _, _ = run_main(['--help'])
        finally:
            sys.stdout = old
        self.assertEqual(status, 0)


class EndToEndTest(unittest.TestCase):

    def test_python_dash_m_testsupport_info_json(self):
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        proc = subprocess.Popen([sys.executable, '-m', 'testsupport', 'info', '--json'],
                                cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate()
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(json.loads(out.decode('utf-8'))['testsupport'], testsupport.__version__)
