"""Tests for ``python -m testsupport port``."""
from __future__ import absolute_import, division, print_function

import io
import os
import random
import socket
import subprocess
import sys
import time
import unittest

from testsupport import (_cli, _compat, _config, _ports, _sockets, allocator, platform_shim,
                         socket_helper)
from tests.helpers import private_registry, run_main, set_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def port_under_ulimit(limit, count):
    """``python -m testsupport port -n count`` under ``ulimit -n limit``: (status, out, err)."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    script = 'ulimit -n %d && exec "$0" -m testsupport port -n %d' % (limit, count)
    child = subprocess.Popen(['/bin/sh', '-c', script, sys.executable], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = child.communicate()
    return child.returncode, out.decode('ascii'), err.decode('utf-8')


class PortCommandTest(unittest.TestCase):
    """The port and release commands, on a private registry (its own kernel namespace)."""

    def setUp(self):
        self.directory = private_registry(self)

    def set_env(self, name, value):
        set_env(self, name, value)

    def store(self):
        return _ports.current().store

    def held(self, port):
        return self.store().held('p%d' % port)

    def release_at_cleanup(self, ports):
        self.addCleanup(lambda: run_main(['release'] + [str(p) for p in ports]))

    def test_prints_n_distinct_tcp_ports_leased_beyond_the_command(self):
        status, out, err = run_main(['port', '-n', '3'])
        self.assertEqual((status, err), (0, ''))
        ports = [int(line) for line in out.splitlines()]
        self.release_at_cleanup(ports)
        self.assertEqual(len(set(ports)), 3)
        self.assertTrue(all(self.held(port) for port in ports))
        sock = socket.socket()
        self.addCleanup(sock.close)
        sock.bind((socket_helper.HOST, ports[0]))

    def test_release_ends_the_leases(self):
        status, out, _ = run_main(['port', '-n', '2'])
        ports = [int(line) for line in out.splitlines()]
        self.assertEqual(run_main(['release'] + out.split()), (0, '', ''))
        self.assertFalse(any(self.held(port) for port in ports))
        status, out, err = run_main(['release', str(ports[0])])
        self.assertEqual((status, out), (1, ''))
        self.assertIn('release: error: this port was not leased by "port" for this user (released '
                      'already, run out, or never leased): %d'
                      % ports[0], err)

    def test_release_long_after_the_port_command(self):
        status, out, _ = run_main(['port', '-n', '2'])
        ports = [int(line) for line in out.splitlines()]
        self.release_at_cleanup(ports)
        # The scenario itself, not a wait for something: the holder has been idle
        # in poll() for longer than it gives one request (it used to take the
        # time before that wait, and dropped every later request unread).
        time.sleep(2.5)
        self.assertEqual(run_main(['release'] + out.split()), (0, '', ''))
        self.assertFalse(any(self.held(port) for port in ports))

    def test_lease_option_sets_the_expiry(self):
        status, out, err = run_main(['port', '--lease', '2.5'])
        self.assertEqual((status, err), (0, ''))
        self.release_at_cleanup([int(out)])
        status, out, err = run_main(['port', '--lease', 'inf'])
        self.assertEqual((status, out), (2, ''))
        self.assertIn('--lease is \'inf\'; expected a number of seconds greater than 0 and at '
                      'most 86400', err)

    def test_udp_ipv6(self):
        family = socket.AF_INET6 if socket_helper.IPV6_ENABLED else socket.AF_INET
        argv = ['port', '--udp'] + (['--ipv6'] if socket_helper.IPV6_ENABLED else [])
        status, out, _ = run_main(argv)
        self.assertEqual(status, 0)
        self.release_at_cleanup([int(out)])
        sock = socket.socket(family, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        host = socket_helper.HOSTv6 if family == socket.AF_INET6 else socket_helper.HOST
        sock.bind((host, int(out)))

    def test_bad_count_is_a_usage_error(self):
        status, out, err = run_main(['port', '-n', '0'])
        self.assertEqual((status, out), (2, ''))
        self.assertIn("argument -n: expected a whole number of ports >= 1, got '0'", err)

    def test_count_larger_than_the_range_is_refused_up_front(self):
        self.set_env(allocator.RANGE_ENV_VAR, '20000-20099')
        status, out, err = run_main(['port', '-n', '100000'])
        self.assertEqual((status, out), (1, ''))
        self.assertEqual(err, 'testsupport port: error: -n 100000 is more '
                              'ports than the range 20000-20099 holds (100); ask for fewer, '
                              'or widen TESTSUPPORT_PORT_RANGE\n')

    def test_bad_range_reports_the_variable(self):
        self.set_env(allocator.RANGE_ENV_VAR, 'lots')
        status, out, err = run_main(['port'])
        self.assertEqual((status, out), (1, ''))
        self.assertEqual(err, 'testsupport port: error: TESTSUPPORT_PORT_RANGE is '
                              '\'lots\'; expected LOW-HIGH with 1 <= LOW <= HIGH <= 65535, e.g. '
                              '20000-29999, or "kernel" for kernel-assigned ports\n')

    def test_too_few_ports_prints_none_and_keeps_none_leased(self):
        first, last = _config.default_range(platform_shim.current().ephemeral_port_range())
        outsider = socket.socket()
        self.addCleanup(outsider.close)
        for _attempt in range(100):  # other test runs on this machine bind in the range too
            low = random.randrange(first // 32 + 1, last // 32) * 32
            try:
                outsider.bind((socket_helper.HOST, low))  # 3 free ports, 4 asked for
            except socket.error:
                continue
            if all(_sockets.bind_error(socket.AF_INET, socket.SOCK_STREAM, None, port,
                                       platform_shim.current(), 'test') is None
                   for port in range(low + 1, low + 4)):
                break
            outsider.close()
            outsider = socket.socket()
            self.addCleanup(outsider.close)
        self.set_env(allocator.RANGE_ENV_VAR, '%d-%d' % (low, low + 3))
        status, out, err = run_main(['port', '-n', '4'])
        self.assertEqual((status, out), (1, ''))
        self.assertIn('testsupport port: error: ', err)
        self.assertIn('no free port in %d-%d' % (low, low + 3), err)
        self.assertFalse(any(self.held(port) for port in range(low, low + 4)))

    def test_file_registry_leases_outlive_the_command_until_released(self):
        # (A lease lost before it is handed on: tests/test_leases.py and
        # test_holder.py check the error at the store.)
        self.set_env(allocator.BACKEND_ENV_VAR, 'files')
        status, out, err = run_main(['port', '-n', '2'])
        self.assertEqual((status, err), (0, ''))
        ports = out.split()
        store = _ports.current().store
        self.assertEqual(store.kind, 'files')
        self.assertEqual([store.judge('p' + p) for p in ports], ['detached', 'detached'])
        self.assertEqual(run_main(['release'] + ports), (0, '', ''))
        self.assertEqual([store.judge('p' + p) for p in ports], ['free', 'free'])

    def test_closed_stdout_leaves_nothing_leased(self):
        class Closed(object):
            def write(self, text):
                raise IOError(32, 'Broken pipe')

            def flush(self):
                pass
        before = set(_ports.current()._known)
        err = io.BytesIO() if _compat.PY2 else io.StringIO()
        old, sys.stderr = sys.stderr, err
        try:
            status = _cli.main(['port', '-n', '3'], stdout=Closed())
        finally:
            sys.stderr = old
        self.assertEqual(status, 1)
        self.assertIn('cannot write the ports ([Errno 32] Broken pipe); nothing stays leased',
                      err.getvalue())
        self.assertEqual(set(_ports.current()._known), before)

    def test_end_to_end_through_a_pipe_that_closes(self):
        env = dict(os.environ, PYTHONPATH=ROOT)
        read_end, write_end = os.pipe()
        os.close(read_end)  # as `testsupport port -n 3 | true` after true exited
        child = subprocess.Popen([sys.executable, '-m', 'testsupport', 'port', '-n', '3'],
                                 env=env, stdout=write_end, stderr=subprocess.PIPE)
        os.close(write_end)
        err = child.communicate()[1].decode('utf-8')
        self.assertEqual(child.returncode, 1)
        self.assertIn('nothing stays leased', err)
        self.assertNotIn('Traceback', err)

    def test_end_to_end(self):
        env = dict(os.environ, PYTHONPATH=ROOT)
        output = subprocess.check_output([sys.executable, '-m', 'testsupport', 'port', '-n', '2'],
                                         env=env, universal_newlines=True)
        ports = [int(line) for line in output.splitlines()]
        self.assertEqual(len(set(ports)), 2)
        self.assertTrue(all(self.held(port) for port in ports))
        subprocess.check_call([sys.executable, '-m', 'testsupport', 'release'] +
                              [str(p) for p in ports], env=env)
        self.assertFalse(any(self.held(port) for port in ports))

    @unittest.skipUnless(os.path.exists('/bin/sh'), 'requires /bin/sh for ulimit')
    def test_a_thousand_ports_under_ulimit_1024(self):
        status, out, err = port_under_ulimit(1024, 1000)
        ports = [int(line) for line in out.splitlines()]
        self.release_at_cleanup(ports)
        self.assertEqual((status, err), (0, ''))
        self.assertEqual(len(set(ports)), 1000)

    @unittest.skipUnless(os.path.exists('/bin/sh'), 'requires /bin/sh for ulimit')
    def test_too_few_descriptors_is_said_so(self):
        # It used to say every block of the range was held by a live process.
        status, out, err = port_under_ulimit(128, 500)
        self.assertEqual((status, out), (1, ''))
        self.assertIn('of 500 ports could be leased: each is held by a file descriptor until '
                      'the command ends, and this process may open 128 (ulimit -n); ask for '
                      'fewer, or raise the limit', err)

    def test_release_is_a_no_op_under_the_ephemeral_strategy(self):
        # As release_port(): 'port' leased nothing, so a script's 'release' succeeds.
        self.set_env(allocator.STRATEGY_ENV_VAR, 'ephemeral')
        status, out, err = run_main(['port', '-n', '2'])
        self.assertEqual((status, err), (0, ''))
        self.assertEqual(run_main(['release'] + out.split()), (0, '', ''))

    @unittest.skipUnless(os.path.exists('/bin/sh'), 'requires /bin/sh to close descriptors')
    def test_closed_stdin_and_stderr_still_lease_every_port(self):
        # With fds 0 and 2 closed the lease sockets take those numbers; the
        # holder must still get them (it used to get /dev/null instead: the
        # ports were printed unleased, and on 2.7 the holder spun on it).
        env = dict(os.environ, PYTHONPATH=ROOT)
        script = 'exec "$0" -m testsupport port -n 2 --lease 30 <&- 2>&-'
        child = subprocess.Popen(['/bin/sh', '-c', script, sys.executable], env=env,
                                 stdout=subprocess.PIPE)
        out = child.communicate()[0].decode('ascii')
        ports = [int(line) for line in out.splitlines()]
        self.release_at_cleanup(ports)
        self.assertEqual((child.returncode, len(ports)), (0, 2))
        self.assertEqual([self.held(port) for port in ports], [True, True])

    @unittest.skipUnless(os.path.exists('/bin/sh'), 'requires /bin/sh to close descriptors')
    def test_closed_or_full_stdout_exits_1_without_a_traceback(self):
        first, last = _config.default_range(platform_shim.current().ephemeral_port_range())
        low = random.randrange(first // 32 + 1, last // 32 - 1) * 32
        self.set_env(allocator.RANGE_ENV_VAR, '%d-%d' % (low, low + 63))
        env = dict(os.environ, PYTHONPATH=ROOT)
        for command in ('port -n 2', 'info', 'info --json', '--help', 'port --help'):
            for redirect in ('>&-', '>/dev/full'):
                script = 'exec "$0" -m testsupport %s %s' % (command, redirect)
                child = subprocess.Popen(['/bin/sh', '-c', script, sys.executable], env=env,
                                         stderr=subprocess.PIPE)
                err = child.communicate()[1].decode('utf-8', 'replace')
                what = '%s %s: %s' % (command, redirect, err)
                self.assertNotIn('Traceback', err, what)
                if not command.endswith('--help'):  # 3.x's argparse ignores write errors
                    self.assertEqual(child.returncode, 1, what)
                if command.startswith('port -n'):
                    self.assertIn('nothing stays leased', err, what)
        self.assertEqual([p for p in range(low, low + 64) if self.held(p)], [])

    @unittest.skipUnless(os.path.exists('/bin/sh'), 'requires /bin/sh to close descriptors')
    def test_closed_stderr_keeps_the_exit_status(self):
        env = dict(os.environ, PYTHONPATH=ROOT)
        for command, status in (('port -n 0', 2), ('release', 2), ('release 1', 1), ('', 2),
                                ('port -n 2 >&-', 1), ('info >&-', 1)):
            script = 'exec "$0" -m testsupport %s 2>&-' % command
            child = subprocess.Popen(['/bin/sh', '-c', script, sys.executable], env=env,
                                     stdout=subprocess.PIPE)
            child.communicate()
            self.assertEqual(child.returncode, status, command)


if __name__ == '__main__':
    unittest.main()
