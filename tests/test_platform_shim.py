"""Tests for testsupport.platform_shim: descriptions, detection, and the real Linux branch."""
from __future__ import absolute_import, division, print_function

import errno
import os
import socket
import sys
import unittest

from testsupport import _system, platform_shim
from testsupport.platform_shim import FREEBSD, LINUX, MACOS, WINDOWS
from tests.fakes import FakeModule, FakeSocket, FakeSocketError
from tests.helpers import FdLeakMixin, new_socket

on_linux = unittest.skipUnless(sys.platform.startswith('linux'), 'checks the real Linux kernel')


class PlatformTest(unittest.TestCase):

    def test_missing_field_raises_type_error_naming_it(self):
        with self.assertRaises(TypeError) as cm:
            platform_shim.Platform(name='x')
        self.assertIn("missing ['af_unix',", str(cm.exception))
        self.assertIn('unknown []', str(cm.exception))

    def test_unknown_field_raises_type_error(self):
        fields = dict((f, getattr(LINUX, f)) for f in LINUX._fields)
        fields['colour'] = 'blue'
        with self.assertRaises(TypeError) as cm:
            platform_shim.Platform(**fields)
        self.assertIn("unknown ['colour']", str(cm.exception))

    def test_replace_copies_and_changes(self):
        variant = LINUX.replace(name='other')
        self.assertEqual(variant.name, 'other')
        self.assertEqual(LINUX.name, 'linux')
        self.assertNotEqual(variant, LINUX)
        self.assertEqual(LINUX.replace(), LINUX)
        self.assertFalse(LINUX != LINUX.replace())
        self.assertEqual(repr(WINDOWS), '<Platform windows>')

    def test_descriptions_differ_where_the_systems_do(self):
        self.assertEqual((LINUX.sol_socket, MACOS.sol_socket, WINDOWS.sol_socket), (1, 0xffff, 0xffff))
        self.assertIsNone(LINUX.so_exclusiveaddruse)
        self.assertEqual(WINDOWS.so_exclusiveaddruse, -5)
        self.assertIsNone(WINDOWS.so_reuseport)
        self.assertIsNone(WINDOWS.af_unix)
        self.assertEqual((LINUX.sun_path_max, MACOS.sun_path_max), (108, 104))
        self.assertEqual(FREEBSD.blackhole_sysctl, 'net.inet.tcp.blackhole')


@on_linux
class RealLinuxTest(FdLeakMixin, unittest.TestCase):
    """The LINUX description is checked against the running kernel and Python build."""

    def test_socket_numbers_match_this_python(self):
        self.assertEqual(LINUX.sol_socket, socket.SOL_SOCKET)
        self.assertEqual(LINUX.so_reuseaddr, socket.SO_REUSEADDR)
        self.assertEqual(LINUX.af_unix, socket.AF_UNIX)
        if hasattr(socket, 'SO_REUSEPORT'):
            self.assertEqual(LINUX.so_reuseport, socket.SO_REUSEPORT)
        self.assertFalse(hasattr(socket, 'SO_EXCLUSIVEADDRUSE'))

    def test_errnos_match_this_libc(self):
        for name, number in LINUX.errnos.items():
            self.assertEqual(getattr(errno, name), number, name)

    def test_gai_errnos_match_this_libc(self):
        for name in ('EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME'):
            self.assertEqual(getattr(socket, name), LINUX.gai_errnos[name], name)

    def test_current_is_linux_and_cached(self):
        self.assertEqual(platform_shim.current().name, 'linux')
        self.assertIs(platform_shim.current(), platform_shim.current())
        self.assertEqual(platform_shim.current(), platform_shim.detect(sys.platform, socket, errno))

    def test_ephemeral_range_is_read_from_proc(self):
        with open('/proc/sys/net/ipv4/ip_local_port_range') as fp:
            low, high = [int(x) for x in fp.read().split()]
        self.assertEqual(platform_shim.current().ephemeral_port_range(), (low, high))

    def test_kernel_ports_come_from_the_ephemeral_range(self):
        low, high = platform_shim.current().ephemeral_port_range()
        sock = new_socket(self)
        sock.bind(('127.0.0.1', 0))
        self.assertTrue(low <= sock.getsockname()[1] <= high)

    def test_reuse_options_on_real_sockets(self):
        plat = platform_shim.current()
        sock = new_socket(self)
        self.assertEqual(plat.reuse_options_set(sock), [])
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.assertEqual(plat.reuse_options_set(sock), ['SO_REUSEADDR'])
        if plat.so_reuseport is not None:
            sock.setsockopt(socket.SOL_SOCKET, plat.so_reuseport, 1)
            self.assertEqual(plat.reuse_options_set(sock), ['SO_REUSEADDR', 'SO_REUSEPORT'])

    def test_socket_type_strips_nonblock_flag(self):
        plat = platform_shim.current()
        sock = new_socket(self)
        sock.setblocking(False)
        self.assertEqual(plat.socket_type(sock), socket.SOCK_STREAM)
        udp = new_socket(self, type=socket.SOCK_DGRAM)
        self.assertEqual(plat.socket_type(udp), socket.SOCK_DGRAM)

    def test_make_exclusive_is_a_noop(self):
        sock = FakeSocket()
        platform_shim.current().make_exclusive(sock)
        self.assertEqual(sock.calls, [])

    def test_real_address_in_use_is_taken(self):
        taken = new_socket(self)
        taken.bind(('127.0.0.1', 0))
        sock = new_socket(self)
        with self.assertRaises(socket.error) as cm:
            sock.bind(taken.getsockname())
        self.assertTrue(platform_shim.current().is_address_taken(cm.exception))
        self.assertFalse(platform_shim.current().is_permission_error(cm.exception))


class DetectTest(unittest.TestCase):

    def test_platform_prefixes(self):
        module = FakeModule(SOL_SOCKET=1)
        for sys_platform, name in [('linux', 'linux'), ('linux2', 'linux'), ('win32', 'windows'),
                                   ('darwin', 'macos'), ('freebsd13', 'freebsd'),
                                   ('openbsd7', 'openbsd'), ('cygwin', 'cygwin'),
                                   ('unknownos', 'linux')]:
            self.assertEqual(platform_shim.detect(sys_platform, module).name, name, sys_platform)

    def test_windows_build_options_come_from_the_module(self):
        module = FakeModule(SOL_SOCKET=0xffff, SO_REUSEADDR=4, SO_EXCLUSIVEADDRUSE=-5)
        plat = platform_shim.detect('win32', module, FakeModule(EADDRINUSE=100))
        self.assertEqual(plat.so_exclusiveaddruse, -5)
        self.assertIsNone(plat.so_reuseport)
        self.assertIsNone(plat.af_unix)
        self.assertEqual(plat.errnos['EADDRINUSE'], 10048, 'Windows keeps WinSock numbers')

    def test_option_missing_from_the_build_is_none(self):
        module = FakeModule(SOL_SOCKET=1, SO_REUSEADDR=2, AF_UNIX=1)
        plat = platform_shim.detect('linux', module)
        self.assertIsNone(plat.so_reuseport)
        self.assertEqual(plat.sock_type_flags, LINUX.sock_type_flags)

    def test_module_without_sol_socket_keeps_the_template_number(self):
        self.assertEqual(platform_shim.detect('win32', FakeModule()).sol_socket, 0xffff)

    def test_errno_module_numbers_win_on_posix(self):
        plat = platform_shim.detect('darwin', FakeModule(SOL_SOCKET=0xffff),
                                    FakeModule(EADDRINUSE=4848))
        self.assertEqual(plat.errnos['EADDRINUSE'], 4848)
        self.assertEqual(plat.errnos['ECONNREFUSED'], 61)


class ErrnoQuestionsTest(unittest.TestCase):

    def test_windows_excluded_range_counts_as_taken(self):
        self.assertTrue(WINDOWS.is_address_taken(FakeSocketError(10013)))
        self.assertTrue(WINDOWS.is_address_taken(FakeSocketError(10048)))
        self.assertFalse(WINDOWS.is_address_taken(FakeSocketError(98)))

    def test_macos_numbers(self):
        self.assertTrue(MACOS.is_address_taken(FakeSocketError(48)))
        self.assertEqual(MACOS.conn_refused_errnos(True), [61, 51, 49, 65])

    def test_errors_without_errno(self):
        self.assertFalse(LINUX.is_errno(ValueError('x'), 'EADDRINUSE'))

    def test_transient_lists(self):
        self.assertEqual(LINUX.transient_errnos(), [111, 104, 113, 101, 110, 99])
        self.assertEqual(LINUX.transient_gai_errnos(), [-5, -4, -3, -2, 11004])
        self.assertIn(11001, WINDOWS.transient_gai_errnos())


class ReuseOptionsDescribedTest(unittest.TestCase):

    def test_windows_checks_only_reuseaddr(self):
        sock = FakeSocket()
        self.assertEqual(WINDOWS.reuse_options_set(sock), [])
        self.assertEqual(sock.calls, [('getsockopt', 0xffff, 4)])

    def test_einval_for_reuseport_is_tolerated(self):
        sock = FakeSocket(options={(0xffff, 0x200): FakeSocketError(22)})
        self.assertEqual(MACOS.reuse_options_set(sock), [])

    def test_error_for_reuseaddr_propagates(self):
        sock = FakeSocket(options={(1, 2): FakeSocketError(92)})
        with self.assertRaises(socket.error):
            LINUX.reuse_options_set(sock)

    def test_windows_make_exclusive_sets_the_option(self):
        sock = FakeSocket()
        WINDOWS.make_exclusive(sock)
        self.assertEqual(sock.calls, [('setsockopt', 0xffff, -5, 1)])


class EphemeralRangeTest(unittest.TestCase):

    def test_linux_reads_the_proc_file(self):
        paths = []

        def read_file(path):
            paths.append(path)
            return '40000\t50000\n'
        self.assertEqual(LINUX.ephemeral_port_range(read_file=read_file), (40000, 50000))
        self.assertEqual(paths, ['/proc/sys/net/ipv4/ip_local_port_range'])

    def test_linux_unreadable_or_garbage_gives_default(self):
        for text in (None, '', 'garbage', '1 2 3', '50000 40000', '0 10'):
            self.assertEqual(LINUX.ephemeral_port_range(read_file=lambda p, t=text: t),
                             (32768, 60999), text)

    def test_macos_asks_sysctl(self):
        answers = {'net.inet.ip.portrange.first': '49152\n', 'net.inet.ip.portrange.last': '65535\n'}
        calls = []

        def run(cmd):
            calls.append(cmd)
            return 0, answers[cmd[2]]
        self.assertEqual(MACOS.ephemeral_port_range(run=run), (49152, 65535))
        self.assertEqual(calls[0], ['sysctl', '-n', 'net.inet.ip.portrange.first'])

    def test_freebsd_sysctl_failure_gives_default(self):
        self.assertEqual(FREEBSD.ephemeral_port_range(run=lambda cmd: (1, 'unknown oid')),
                         (10000, 65535))

    def test_windows_parses_netsh(self):
        output = ('\nProtocol tcp Dynamic Port Range\n---------------------------------\n'
                  'Start Port      : 50000\nNumber of Ports : 1000\n')
        self.assertEqual(WINDOWS.ephemeral_port_range(run=lambda cmd: (0, output)), (50000, 50999))

    def test_windows_netsh_missing_gives_default(self):
        self.assertEqual(WINDOWS.ephemeral_port_range(run=lambda cmd: (None, '')), (49152, 65535))

    def test_fixed_source_gives_default(self):
        sunos = platform_shim.detect('sunos5', FakeModule(SOL_SOCKET=0xffff))
        self.assertEqual(sunos.ephemeral_port_range(), (32768, 65535))

    def test_real_runner_reports_a_missing_command(self):
        self.assertEqual(_system.run_command(['/nonexistent/testsupport-no-such-command']),
                         (None, ''))
        code, output = _system.run_command([sys.executable, '-c', 'print(42)'])
        self.assertEqual((code, output.strip()), (0, '42'))

    def test_real_read_file_missing_is_none(self):
        self.assertIsNone(_system.read_text_file('/nonexistent/testsupport/file'))


class OwnershipTest(unittest.TestCase):
    """Platform differences are fields: no module branches on a platform's name."""

    def package_sources(self):
        package = os.path.dirname(platform_shim.__file__)
        for name in sorted(os.listdir(package)):
            if name.endswith('.py'):
                with open(os.path.join(package, name)) as fp:
                    yield name, fp.read()

    def test_no_branch_on_a_platform_name_outside_detect(self):
        import re
        branch = re.compile(r"\.name\s*(==|!=|in\b|not\s+in\b)|\bname\s*(==|!=)\s*'(linux|macos|"
                            r"freebsd|windows|cygwin)'")
        found = []
        for name, text in self.package_sources():
            if name == 'platform_shim.py':
                start = text.index('\ndef detect(')
                text = text[:start] + text[text.index('\ndef current(', start):]
            found.extend('%s: %s' % (name, line.strip()) for line in text.splitlines()
                         if branch.search(line) and not line.strip().startswith('#'))
        self.assertEqual(found, [])

    def test_checker_finds_a_name_branch(self):
        import re
        branch = re.compile(r"\.name\s*(==|!=|in\b|not\s+in\b)")
        self.assertTrue(branch.search("    if platform.name == 'windows':"))

    def test_every_field_is_described_for_every_platform(self):
        for plat in (LINUX, MACOS, FREEBSD, WINDOWS):
            for field in ('file_locking', 'registry_home', 'dir_privacy', 'process_containment'):
                self.assertIsNotNone(getattr(plat, field), (plat.name, field))
        self.assertEqual(WINDOWS.file_locking, 'msvcrt')
        self.assertEqual(LINUX.process_table, 'procfs')
        self.assertIsNone(MACOS.process_table)

    def test_exports_a_dozen_names_or_fewer(self):
        self.assertLessEqual(len(platform_shim.__all__), 12)
