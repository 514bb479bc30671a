"""Tests for the command line: ``_cli.main([...])`` and one real ``python -m testsupport``."""
from __future__ import absolute_import, division, print_function

import argparse
import io
import json
import os
import platform
import subprocess
import sys
import unittest

import testsupport
from testsupport import _cli, _compat, allocator, socket_helper
from tests.helpers import private_registry, run_main, set_env


def run_as(argv, prog=None):
    """``_cli.main(argv, prog=prog)`` in this process: ``(status, stdout, stderr)`` as text."""
    out = io.BytesIO() if _compat.PY2 else io.StringIO()
    err = io.BytesIO() if _compat.PY2 else io.StringIO()
    saved, sys.stderr = sys.stderr, err
    try:
        status = _cli.main(argv, stdout=out, prog=prog)
    finally:
        sys.stderr = saved
    values = [out.getvalue(), err.getvalue()]
    return tuple([status] + [v.decode('utf-8') if isinstance(v, bytes) else v for v in values])


VERSION = 'testsupport %s (Python %s, %s, %s)\n' % (
    testsupport.__version__, platform.python_version(), platform.python_implementation(),
    sys.executable)


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
        self.assertEqual(err, 'usage: testsupport [-h] [--version] COMMAND ...\n'
                              'testsupport: error: name a command: "info", "port" or '
                              '"release" (see --help)\n')

    def test_unknown_command_is_a_usage_error(self):
        status, _, _ = run_main(['frobnicate'])
        self.assertEqual(status, 2)

    def test_help_exits_zero(self):
        status, out, err = run_main(['--help'])
        self.assertEqual((status, err), (0, ''))
        self.assertTrue(out.startswith('usage: testsupport [-h] [--version] COMMAND ...\n'), out)


class ProgTest(unittest.TestCase):
    """Usage and errors show the name the command was run by."""

    def test_default_is_the_console_script(self):
        status, _, err = run_as(['port', '-n', '0'])
        self.assertEqual(status, 2)
        self.assertTrue(err.startswith('usage: testsupport port [-h] '), err)
        self.assertIn('\ntestsupport port: error: ', err)

    def test_python_dash_m_name(self):
        status, out, _ = run_as(['release', '--help'], prog='python -m testsupport')
        self.assertEqual(status, 0)
        self.assertTrue(out.startswith('usage: python -m testsupport release [-h] PORT '
                                       '[PORT ...]\n'), out)
        self.assertIn('  python -m testsupport release 20001', out)

    def test_build_parser_default_and_given_prog(self):
        self.assertIsInstance(_cli.build_parser(), argparse.ArgumentParser)
        self.assertEqual(_cli.build_parser().prog, 'testsupport')
        self.assertEqual(_cli.build_parser('python -m testsupport').prog,
                         'python -m testsupport')
        self.assertIn('PORT=$(python -m testsupport port)',
                      _cli.build_parser('python -m testsupport').format_help())

    def test_console_script_and_module_pass_their_names(self):
        import testsupport.__main__ as module  # the installed copy, wherever it is
        with open(module.__file__.rstrip('co')) as fp:
            self.assertIn("main(prog='python -m testsupport')", fp.read())
        saved = sys.argv, sys.stderr
        sys.argv = ['/somewhere/bin/testsupport']
        sys.stderr = io.BytesIO() if _compat.PY2 else io.StringIO()
        try:
            with self.assertRaises(SystemExit) as cm:
                _cli.run()
            err = sys.stderr.getvalue()
        finally:
            sys.argv, sys.stderr = saved
        self.assertEqual(cm.exception.code, 2)
        self.assertIn('testsupport: error: name a command', err)


class VersionTest(unittest.TestCase):

    def test_version_names_testsupport_and_python(self):
        self.assertEqual(run_as(['--version']), (0, VERSION, ''))

    def test_version_under_either_name(self):
        self.assertEqual(run_as(['--version'], prog='python -m testsupport'), (0, VERSION, ''))


class HelpTest(unittest.TestCase):
    """Every command's help describes its arguments, with examples."""

    def help(self, argv, prog=None):
        status, out, err = run_as(argv + ['--help'], prog)
        self.assertEqual((status, err), (0, ''))
        return out

    def test_top_help_lists_commands_info_json_and_exit_status(self):
        out = self.help([])
        for text in ('  --version   print the testsupport and Python versions and exit\n',
                     '    info      report IPv6, AF_UNIX, socket options, port ranges',
                     '("info --json": as JSON)',
                     '    release   end the leases of ports that "port" printed\n',
                     '  testsupport info --json\n      the same facts, as one JSON object\n',
                     '  PORT=$(testsupport port)\n      a free TCP port, leased for 60 s\n',
                     '  testsupport release "$PORT"\n      end that lease early\n',
                     '"testsupport COMMAND --help" describes a command and its arguments.\n',
                     'exit status: 0 done, 1 failed (the reason is on stderr), 2 bad usage.\n'):
            self.assertIn(text, out)

    def test_info_help_describes_json(self):
        out = self.help(['info'])
        self.assertTrue(out.startswith('usage: testsupport info [-h] [--json]\n'), out)
        self.assertIn('print one JSON object (the same keys; ranges as', out)
        self.assertIn('  testsupport info --json | python -m json.tool\n      one JSON object\n',
                      out)
        self.assertIn('exit status 1 when a TESTSUPPORT_PORT_* variable is invalid', out)

    def test_port_help_describes_each_option(self):
        out = self.help(['port'])
        for text in ('-n N ', 'how many ports (default: 1), all different',
                     '--udp ', 'UDP ports (default: TCP)',
                     '--ipv6 ', 'ports free on ::1 (default: on 127.0.0.1)',
                     '--lease SECONDS ', 'how long the ports stay leased, at most 86400',
                     'set -- $(testsupport port -n 3)', 'three ports, in $1 $2 $3',
                     'testsupport release "$PORT"'):
            self.assertIn(text, out)

    def test_release_help_describes_port(self):
        out = self.help(['release'])
        self.assertTrue(out.startswith('usage: testsupport release [-h] PORT [PORT ...]\n'), out)
        self.assertIn('  PORT        a port that "port" printed (1-65535); name several to end',
                      out)
        self.assertIn('  testsupport release $PORTS\n      the ports of PORTS=$(testsupport '
                      'port -n 3)\n', out)
        self.assertIn('exit status 1 names the ports that "port" did not lease', out)

    def test_examples_fit_79_columns_under_both_names(self):
        for prog in ('testsupport', 'python -m testsupport'):
            for argv in ([], ['info'], ['port'], ['release']):
                out = self.help(argv, prog)
                examples = out[out.index('examples:\n'):]
                long_lines = [line for line in examples.splitlines() if len(line) > 79]
                self.assertEqual(long_lines, [], (prog, argv))


class ErrorTest(unittest.TestCase):
    """Each error is one line: ``<prog> <command>: error: <what, the value, what to do>``."""

    def setUp(self):
        private_registry(self)

    def test_too_many_ports_has_one_prefix(self):
        set_env(self, allocator.RANGE_ENV_VAR, '20000-20009')
        status, out, err = run_as(['port', '-n', '11'], prog='python -m testsupport')
        self.assertEqual((status, out), (1, ''))
        self.assertEqual(err, 'python -m testsupport port: error: -n 11 is more ports than the '
                              'range 20000-20009 holds (10); ask for fewer, or widen '
                              'TESTSUPPORT_PORT_RANGE\n')

    def test_bad_count(self):
        status, _, err = run_as(['port', '-n', '0'])
        self.assertEqual(status, 2)
        self.assertEqual(err.splitlines()[-1], "testsupport port: error: argument -n: expected a "
                                               "whole number of ports >= 1, got '0'; e.g. -n 3")

    def test_bad_port(self):
        status, _, err = run_as(['release', 'x'])
        self.assertEqual(status, 2)
        self.assertEqual(err.splitlines()[-1],
                         "testsupport release: error: argument PORT: expected a port number in "
                         "1..65535, got 'x'; name ports as \"port\" printed them")

    def test_release_without_ports(self):
        self.assertEqual(run_as(['release']), (
            2, '', 'usage: testsupport release [-h] PORT [PORT ...]\n'
                   'testsupport release: error: name the ports to release, as "port" printed '
                   'them, e.g. testsupport release 20001 20002\n'))

    def test_release_of_ports_not_leased(self):
        set_env(self, allocator.BACKEND_ENV_VAR, 'files')
        self.assertEqual(run_as(['release', '20001']), (
            1, '', 'testsupport release: error: this port was not leased by "port" for this '
                   'user (released already, run out, or never leased): 20001\n'))
        status, _, err = run_as(['release', '20001', '20002'])
        self.assertEqual(err, 'testsupport release: error: these ports were not leased by '
                              '"port" for this user (released already, run out, or never '
                              'leased): 20001 20002\n')

    def test_option_before_the_command(self):
        status, _, err = run_as(['--json'])
        self.assertEqual(status, 2)
        self.assertEqual(err.splitlines()[-1],
                         'testsupport: error: name a command: "info", "port" or "release" '
                         '(options go after it, e.g. "info --json"; got \'--json\')')

    def test_every_error_has_one_prefix(self):
        set_env(self, allocator.RANGE_ENV_VAR, '20000-20009')
        for argv in ([], ['bogus'], ['info', 'x'], ['port', '-n', '11'], ['port', '-n', 'x'],
                     ['port', '--lease', '0'], ['release'], ['release', '0']):
            status, _, err = run_as(argv, prog='python -m testsupport')
            lines = [line for line in err.splitlines() if not line.startswith('usage:')
                     and not line.startswith(' ')]
            self.assertEqual(len(lines), 1, (argv, err))
            self.assertEqual(lines[0].count('error:'), 1, (argv, err))
            command = argv[0] if argv and argv[0] in ('info', 'port', 'release') else None
            prefix = 'python -m testsupport%s: error: ' % (' ' + command if command else '')
            self.assertTrue(lines[0].startswith(prefix), (argv, err))
            self.assertFalse(lines[0][len(prefix):].startswith(command or 'usage'), (argv, err))


class EndToEndTest(unittest.TestCase):

    def test_python_dash_m_testsupport_version(self):
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        proc = subprocess.Popen([sys.executable, '-m', 'testsupport', '--version'],
                                cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate()
        self.assertEqual((proc.returncode, out.decode('utf-8'), err.decode('utf-8')),
                         (0, VERSION, ''))

    def test_python_dash_m_testsupport_usage_names_it(self):
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        proc = subprocess.Popen([sys.executable, '-m', 'testsupport'],
                                cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, err = proc.communicate()
        self.assertEqual((proc.returncode, err.decode('utf-8')), (
            2, 'usage: python -m testsupport [-h] [--version] COMMAND ...\n'
               'python -m testsupport: error: name a command: "info", "port" or "release" '
               '(see --help)\n'))

    def test_python_dash_m_testsupport_info_json(self):
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        proc = subprocess.Popen([sys.executable, '-m', 'testsupport', 'info', '--json'],
                                cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = proc.communicate()
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(json.loads(out.decode('utf-8'))['testsupport'], testsupport.__version__)
