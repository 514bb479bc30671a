"""Tests for ``python -m testsupport port``."""
from __future__ import absolute_import, division, print_function

import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

from testsupport import allocator, platform_shim, socket_helper
from tests.helpers import run_main, set_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class PortCommandTest(unittest.TestCase):

    def setUp(self):
        base = tempfile.mkdtemp(prefix='tsu-cli-')
        self.addCleanup(shutil.rmtree, base, True)
        self.directory = os.path.join(base, 'registry')
        self.env = {allocator.REGISTRY_ENV_VAR: self.directory}
        for name, value in self.env.items():
            self.set_env(name, value)
        self.addCleanup(self.forget_allocators)

    def set_env(self, name, value):
        set_env(self, name, value)

    def forget_allocators(self):
        for key in list(allocator._state):
            if key[2] == self.directory:
                del allocator._state[key]

    def leases(self):
        return [n for n in os.listdir(self.directory) if n.endswith('.lease')]

    def test_prints_n_distinct_tcp_ports(self):
        status, out, err = run_main(['port', '-n', '3'])
        self.assertEqual((status, err), (0, ''))
        ports = [int(line) for line in out.splitlines()]
        self.assertEqual(len(set(ports)), 3)
        sock = socket.socket()
        self.addCleanup(sock.close)
        sock.bind((socket_helper.HOST, ports[0]))

    def test_leases_outlive_the_command(self):
        status, out, _ = run_main(['port'])
        self.assertEqual(status, 0)
        port = int(out)
        for key in list(allocator._state):
            if key[2] == self.directory:
                allocator._state.pop(key).close()  # what happens at exit
        # The port's block is still claimed. (Blocks whose ports were all busy,
        # e.g. in TIME_WAIT after other tests, may have been claimed on the way.)
        self.assertIn('%d.lease' % (port // 32 * 32), self.leases())
        for name in self.leases():
            with open(os.path.join(self.directory, name)) as fp:
                self.assertTrue(fp.read().endswith(' detached\n'), name)

    def test_udp_ipv6(self):
        family = socket.AF_INET6 if socket_helper.IPV6_ENABLED else socket.AF_INET
        argv = ['port', '--udp'] + (['--ipv6'] if socket_helper.IPV6_ENABLED else [])
        status, out, _ = run_main(argv)
        self.assertEqual(status, 0)
        sock = socket.socket(family, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        host = socket_helper.HOSTv6 if family == socket.AF_INET6 else socket_helper.HOST
        sock.bind((host, int(out)))

    def test_bad_count_is_a_usage_error(self):
        status, out, err = run_main(['port', '-n', '0'])
        self.assertEqual((status, out), (2, ''))
        self.assertIn("argument -n: expected a whole number of ports >= 1, got '0'", err)

    def test_bad_range_reports_the_variable(self):
        self.set_env(allocator.RANGE_ENV_VAR, 'lots')
        status, out, err = run_main(['port'])
        self.assertEqual((status, out), (1, ''))
        self.assertEqual(err, 'python -m testsupport port: error: TESTSUPPORT_PORT_RANGE is '
                              '\'lots\'; expected LOW-HIGH with 1 <= LOW <= HIGH <= 65535, e.g. '
                              '20000-29999, or "kernel" for kernel-assigned ports\n')

    def test_too_few_ports_prints_none_and_keeps_none_leased(self):
        first, last = allocator._default_range(platform_shim.current().ephemeral_port_range())
        low = random.randrange(first // 32 + 1, last // 32) * 32  # 4 ports inside one block
        self.set_env(allocator.RANGE_ENV_VAR, '%d-%d' % (low, low + 3))
        status, out, err = run_main(['port', '-n', '6'])
        self.assertEqual((status, out), (1, ''))
        self.assertIn('python -m testsupport port: error: ', err)
        self.assertIn('no free port in %d-%d' % (low, low + 3), err)
        self.assertEqual(self.leases(), [])

    def test_end_to_end(self):
        env = dict(os.environ, PYTHONPATH=ROOT)
        output = subprocess.check_output([sys.executable, '-m', 'testsupport', 'port', '-n', '2'],
                                         env=env, universal_newlines=True)
        ports = [int(line) for line in output.splitlines()]
        self.assertEqual(len(set(ports)), 2)
        self.assertTrue(self.leases())


if __name__ == '__main__':
    unittest.main()
