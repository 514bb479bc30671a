"""Tests for testsupport.platform_shim: descriptions, detection, and the real Linux branch."""
from __future__ import absolute_import, division, print_function

import errno
import os
import socket
import sys
import unittest

from testsupport import platform_shim
from testsupport.platform_shim import FREEBSD, LINUX, MACOS, WINDOWS
from tests.fakes import FakeSocket, FakeSocketError
from tests.helpers import FdLeakMixin, new_socket

on_linux = unittest.skipUnless(sys.platform.startswith('linux'), 'checks the real Linux kernel')


class FakeModule(object):
    """A stand-in for the socket or errno module of another system."""

    def __init__(self, **attrs):
        self.__dict__.update(attrs)


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

    def test_probe_bind_closes_its_socket(self):
        result, exc = self.assertNoFdLeak(platform_shim.probe_bind, socket.AF_INET, ('127.0.0.1', 0))
        self.assertIsNone(exc)
        self.assertIsNone(result)
        taken = new_socket(self)
        taken.bind(('127.0.0.1', 0))
        error, exc = self.assertNoFdLeak(platform_shim.probe_bind, socket.AF_INET,
                                         taken.getsockname())
        self.assertEqual(error.errno, errno.EADDRINUSE)

    def test_probe_bind_reports_socket_creation_errors(self):
        error, exc = self.assertNoFdLeak(platform_shim.probe_bind, 12345, ('x', 0))
        self.assertIsNone(exc)
        self.assertEqual(error.errno, errno.EAFNOSUPPORT)


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
        self.assertEqual(platform_shim._run(['/nonexistent/testsupport-no-such-command']),
                         (None, ''))
        code, output = platform_shim._run([sys.executable, '-c', 'print(42)'])
        self.assertEqual((code, output.strip()), (0, '42'))

    def test_real_read_file_missing_is_none(self):
        self.assertIsNone(platform_shim._read_file('/nonexistent/testsupport/file'))


class RemoveQuietlyTest(unittest.TestCase):

    def test_missing_file_is_fine_other_errors_propagate(self):
        platform_shim.remove_quietly('/nonexistent/testsupport/file')
        directory = os.path.dirname(os.path.abspath(__file__))
        with self.assertRaises(EnvironmentError):
            platform_shim.remove_quietly(directory)



class FakeProcTree(object):
    """/proc of described processes: {pid: stat text or None}, fd directories, links."""

    def __init__(self, stats, fds=None, links=None, listable=True):
        self.stats, self.fds, self.links = stats, fds or {}, links or {}
        self.listable = listable

    def read_file(self, path):
        parts = path.split('/')
        if len(parts) == 4 and parts[3] == 'stat':
            return self.stats.get(int(parts[2]))
        return None

    def list_dir(self, path):
        if path == '/proc' and self.listable:
            return [str(pid) for pid in self.stats] + ['self', 'net']
        pid = int(path.split('/')[2]) if path.endswith('/fd') else None
        if pid in self.fds:
            return self.fds[pid]
        raise OSError(errno.EACCES, 'Permission denied')

    def read_link(self, path):
        if path in self.links:
            return self.links[path]
        raise OSError(errno.ENOENT, 'No such file or directory')


class ProcessTreeDescribedTest(unittest.TestCase):

    def test_unlistable_proc_gives_the_pid_alone(self):
        proc = FakeProcTree({}, listable=False)
        self.assertEqual(platform_shim.process_tree(LINUX, 10, proc.read_file, proc.list_dir),
                         [10])

    def test_descendants_in_other_groups_and_odd_stat_files(self):
        proc = FakeProcTree({
            10: '10 (child) S 1 10 10 0',
            20: '20 (grandchild) S 10 20 20 0',    # its own group: found as a descendant
            30: '30 (great grandchild) S 20 30 30 0',
            40: 'garbage',                         # no ')': skipped
            50: '50 (short) S',                    # too few fields: skipped
            60: None,                              # gone meanwhile
            70: '70 (stranger) S 1 70 70 0',
        })
        self.assertEqual(platform_shim.process_tree(LINUX, 10, proc.read_file, proc.list_dir),
                         [10, 20, 30])

    def test_listeners_of_a_process_whose_fds_cannot_be_read(self):
        proc = FakeProcTree({10: '10 (child) S 1 10 10 0', 20: '20 (other) S 10 20 20 0'},
                            fds={10: ['3', '4']}, links={'/proc/10/fd/3': 'socket:[111]'})
        tcp = ('  sl  local_address rem_address   st\n'
               '   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000'
               '  1000        0 111 1 0\n')
        read = lambda path: tcp if path == '/proc/net/tcp' else proc.read_file(path)  # noqa
        self.assertEqual(platform_shim.listening_ports(LINUX, 10, read, proc.list_dir,
                                                       proc.read_link),
                         [('127.0.0.1', 8000)])

    def test_platform_without_port_discovery_cannot_tell(self):
        self.assertIsNone(platform_shim.listening_ports(LINUX.replace(port_discovery=None), 10))


class ListeningPortsEdgesTest(unittest.TestCase):

    def test_lsof_lines_without_a_port_are_skipped(self):
        output = 'p10\nf3\ntIPv4\nn127.0.0.1:*\nf4\nn127.0.0.1:8000\n'
        self.assertEqual(platform_shim.listening_ports(MACOS, 10, run=lambda cmd: (0, output)),
                         [('127.0.0.1', 8000)])

    def test_windows_ipv6_addresses_and_a_truncated_table(self):
        import struct

        def row6(address, port, state=2, pid=10):
            return (address + struct.pack('=I', 0) + struct.pack('!H', port) + b'\0\0'
                    + b'\0' * 16 + struct.pack('=IIII', 0, 0, state, pid))
        rows = [row6(b'\0' * 16, 9000), row6(b'\x20\x01\x0d\xb8' + b'\0' * 11 + b'\1', 9001)]
        raw6 = struct.pack('=I', 3) + b''.join(rows) + b'\0' * 10  # claims 3, has 2 and a bit
        tables = {23: raw6}
        self.assertEqual(platform_shim.listening_ports(WINDOWS, 10, tcp_table=tables.get),
                         [('2001:db8:0:0:0:0:0:1', 9001), ('::', 9000)])

    def test_windows_table_errors_give_none(self):
        class Iphlpapi(object):
            def __init__(self, result):
                self.result, self.calls = result, 0

            def GetExtendedTcpTable(self, buf, size, order, family, table_class, reserved):
                self.calls += 1
                size.contents.value = size.contents.value + 64  # grows every time
                return self.result
        denied = Iphlpapi(5)  # ERROR_ACCESS_DENIED
        self.assertIsNone(platform_shim._windows_tcp_table(2, denied))
        self.assertEqual(denied.calls, 1)
        growing = Iphlpapi(122)  # ERROR_INSUFFICIENT_BUFFER, five times over
        self.assertIsNone(platform_shim._windows_tcp_table(2, growing))
        self.assertEqual(growing.calls, 5)


class SignalGroupEdgesTest(unittest.TestCase):

    class ExitedProcess(object):
        pid = 4321

        def poll(self):
            return None  # not reaped yet...

        def terminate(self):
            raise OSError(errno.ESRCH, 'No such process')  # ...but gone

    def test_windows_process_that_exited_meanwhile(self):
        self.assertFalse(platform_shim.signal_process_group(WINDOWS, self.ExitedProcess(),
                                                            False))

    def test_posix_unexpected_error_propagates(self):
        def killpg(pgid, sig):
            raise OSError(errno.EINVAL, 'Invalid argument')
        with self.assertRaises(OSError) as cm:
            platform_shim.signal_process_group(LINUX, self.ExitedProcess(), True, killpg=killpg)
        self.assertEqual(cm.exception.errno, errno.EINVAL)


# Sample /proc/net lines as a little-endian (x86) Linux prints them.
_TCP_HEADER = ('  sl  local_address rem_address   st tx_queue rx_queue tr tm->when '
               'retrnsmt   uid  timeout inode')
_TCP6_HEADER = ('  sl  local_address                         remote_address                '
                '        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode')
_UDP_HEADER = ('   sl  local_address rem_address   st tx_queue rx_queue tr tm->when '
               'retrnsmt   uid  timeout inode ref pointer drops')
_V6_ZERO = '0' * 32
# Port 40011 is 0x9C4B.
_LISTEN_LOOPBACK = ('   0: 0100007F:9C4B 00000000:0000 0A 00000000:00000000 00:00000000 '
                    '00000000  1000        0 11803 1 0000000000000000 100 0 0 10 0')
_LISTEN_WILDCARD = ('   1: 00000000:9C4B 00000000:0000 0A 00000000:00000000 00:00000000 '
                    '00000000  1000        0 11804 1 0000000000000000 100 0 0 10 0')
_TIME_WAIT = ('   2: 0100007F:9C4B 0100007F:1F90 06 00000000:00000000 03:00001770 '
              '00000000     0        0 0 3 0000000000000000')
_ESTABLISHED_OTHER_PORT = ('   3: 0100007F:1F90 0100007F:9C4B 01 00000000:00000000 '
                           '00:00000000 00000000  1000        0 11805 1 0000000000000000 20 4 0 10 -1')
_LISTEN_V6_LOOPBACK = ('   0: 00000000000000000000000001000000:9C4B %s:0000 0A '
                       '00000000:00000000 00:00000000 00000000  1000        0 11807 1 '
                       '0000000000000000 100 0 0 10 0' % _V6_ZERO)
_LISTEN_V6_WILDCARD = ('   1: %s:9C4B %s:0000 0A 00000000:00000000 00:00000000 00000000  '
                       '1000        0 11808 1 0000000000000000 100 0 0 10 0'
                       % (_V6_ZERO, _V6_ZERO))
_LISTEN_V4_MAPPED = ('   2: 0000000000000000FFFF00000100007F:9C4B %s:0000 0A '
                     '00000000:00000000 00:00000000 00000000  1000        0 11809 1 '
                     '0000000000000000 100 0 0 10 0' % _V6_ZERO)
_UDP_BOUND = ('  123: 0100007F:9C4B 00000000:0000 07 00000000:00000000 00:00000000 '
              '00000000  1000        0 11806 2 0000000000000000 0')


class FakeProcNet(object):
    """A read_file for port_state: ``{path: lines}``; records the paths read."""

    def __init__(self, **tables):
        self.tables = dict(('/proc/net/' + name, text) for name, text in tables.items())
        self.paths = []

    def __call__(self, path):
        self.paths.append(path)
        lines = self.tables.get(path)
        return None if lines is None else '\n'.join(lines) + '\n'


def tcp_tables(tcp=(), tcp6=()):
    return FakeProcNet(tcp=[_TCP_HEADER] + list(tcp), tcp6=[_TCP6_HEADER] + list(tcp6))


class PortStateProcfsTest(unittest.TestCase):
    """port_state() on the LINUX description, reading sample tables."""

    def state(self, tables, host='127.0.0.1', family=socket.AF_INET, socktype=socket.SOCK_STREAM,
              port=40011, byteorder='little'):
        return platform_shim.port_state(LINUX, port, host, family, socktype, tables, byteorder)

    def test_listening_ipv4_loopback(self):
        tables = tcp_tables([_ESTABLISHED_OTHER_PORT, _LISTEN_LOOPBACK])
        self.assertEqual(self.state(tables), platform_shim.PortState(
            'listening', 'LISTEN', '/proc/net/tcp', '127.0.0.1'))
        self.assertEqual(tables.paths, ['/proc/net/tcp', '/proc/net/tcp6'])

    def test_ipv4_wildcard_covers_loopback_and_loopback_covers_wildcard(self):
        self.assertEqual(self.state(tcp_tables([_LISTEN_WILDCARD])),
                         platform_shim.PortState('listening', 'LISTEN', '/proc/net/tcp',
                                                 '0.0.0.0'))
        self.assertEqual(self.state(tcp_tables([_LISTEN_LOOPBACK]), host='0.0.0.0').address,
                         '127.0.0.1')

    def test_other_address_or_port_is_free(self):
        tables = tcp_tables([_LISTEN_LOOPBACK, _ESTABLISHED_OTHER_PORT])
        free = platform_shim.PortState('free', source='/proc/net/tcp and /proc/net/tcp6')
        self.assertEqual(self.state(tables, host='127.0.0.2'), free)
        self.assertEqual(self.state(tables, port=8080), platform_shim.PortState(
            'connected', 'ESTABLISHED', '/proc/net/tcp', '127.0.0.1'))
        self.assertEqual(self.state(tables, port=40012), free)

    def test_time_wait(self):
        self.assertEqual(self.state(tcp_tables([_TIME_WAIT])), platform_shim.PortState(
            'time_wait', 'TIME_WAIT', '/proc/net/tcp', '127.0.0.1'))

    def test_listening_wins_over_time_wait(self):
        self.assertEqual(self.state(tcp_tables([_TIME_WAIT, _LISTEN_LOOPBACK])).state,
                         'listening')

    def test_ipv6_loopback_and_wildcard(self):
        loopback = tcp_tables(tcp6=[_LISTEN_V6_LOOPBACK])
        self.assertEqual(self.state(loopback, '::1', socket.AF_INET6), platform_shim.PortState(
            'listening', 'LISTEN', '/proc/net/tcp6', '::1'))
        wildcard = tcp_tables(tcp6=[_LISTEN_V6_WILDCARD])
        self.assertEqual(self.state(wildcard, '::1', socket.AF_INET6).address, '::')
        self.assertEqual(self.state(loopback, '::2', socket.AF_INET6).state, 'free')

    def test_ipv6_sockets_do_not_count_for_ipv4_hosts(self):
        # [::] may be IPv6-only (the table can't say): the bind() probe decides.
        tables = tcp_tables(tcp6=[_LISTEN_V6_LOOPBACK, _LISTEN_V6_WILDCARD])
        self.assertEqual(self.state(tables).state, 'free')
        self.assertEqual(self.state(tcp_tables([_LISTEN_WILDCARD]), '::1',
                                    socket.AF_INET6).state, 'free')

    def test_v4_mapped_counts_as_ipv4(self):
        mapped = tcp_tables(tcp6=[_LISTEN_V4_MAPPED])
        self.assertEqual(self.state(mapped), platform_shim.PortState(
            'listening', 'LISTEN', '/proc/net/tcp6', '::ffff:127.0.0.1'))
        self.assertEqual(self.state(tcp_tables([_LISTEN_LOOPBACK]), '::ffff:127.0.0.1',
                                    socket.AF_INET6).address, '127.0.0.1')
        self.assertEqual(self.state(mapped, '::1', socket.AF_INET6).state, 'free')

    def test_udp_bound(self):
        tables = FakeProcNet(udp=[_UDP_HEADER, _UDP_BOUND], udp6=[_UDP_HEADER])
        self.assertEqual(self.state(tables, socktype=socket.SOCK_DGRAM), platform_shim.PortState(
            'bound', 'UNCONN', '/proc/net/udp', '127.0.0.1'))
        self.assertEqual(tables.paths, ['/proc/net/udp', '/proc/net/udp6'])

    def test_udp_does_not_read_tcp_tables(self):
        tables = tcp_tables([_LISTEN_LOOPBACK])
        self.assertIsNone(self.state(tables, socktype=socket.SOCK_DGRAM))
        self.assertEqual(tables.paths, ['/proc/net/udp', '/proc/net/udp6'])

    def test_missing_tcp6_table_reads_the_other(self):
        tables = FakeProcNet(tcp=[_TCP_HEADER])
        self.assertEqual(self.state(tables).source, '/proc/net/tcp')

    def test_big_endian_words(self):
        line = _LISTEN_LOOPBACK.replace('0100007F', '7F000001')
        self.assertEqual(self.state(tcp_tables([line]), byteorder='big').address, '127.0.0.1')
        self.assertEqual(self.state(tcp_tables([line]), byteorder='little').state, 'free')

    def test_malformed_lines_are_skipped(self):
        tables = tcp_tables(['garbage', '  7: XYZ:9C4B 0 0A', '  8: 0100007F:ZZZZ 0 0A', '',
                             _LISTEN_LOOPBACK.replace(' 0A ', ' 99 ')])
        self.assertEqual(self.state(tables).state, 'free')

    def test_cannot_tell_is_none(self):
        self.assertIsNone(self.state(FakeProcNet()), 'no table readable')
        self.assertIsNone(self.state(tcp_tables(), host='localhost'), 'a name, not an address')
        self.assertIsNone(self.state(tcp_tables(), host=None))
        self.assertIsNone(self.state(tcp_tables(), host='::1'), 'IPv6 address for AF_INET')
        self.assertIsNone(self.state(tcp_tables(), socktype=socket.SOCK_RAW))
        self.assertIsNone(self.state(tcp_tables(), family=socket.AF_UNSPEC))

    def test_port_state_repr(self):
        self.assertEqual(repr(platform_shim.PortState('free', source='/proc/net/tcp')),
                         "PortState(state='free', table_state=None, "
                         "source='/proc/net/tcp', address=None)")
        self.assertNotEqual(platform_shim.PortState('free'), platform_shim.PortState('bound'))


class PortStateDescribedTest(unittest.TestCase):
    """Only a 'procfs' port table is read; other platforms can't tell (None)."""

    def test_port_table_field(self):
        self.assertEqual(LINUX.port_table, 'procfs')
        for plat in (MACOS, FREEBSD, WINDOWS):
            self.assertIsNone(plat.port_table, plat.name)
        module = FakeModule(SOL_SOCKET=1)
        for name in ('cygwin', 'sunos5', 'wasi', 'openbsd7', 'netbsd9', 'dragonfly6'):
            self.assertIsNone(platform_shim.detect(name, module).port_table, name)

    def test_other_platforms_read_nothing(self):
        for plat in (MACOS, FREEBSD, WINDOWS, LINUX.replace(port_table=None)):
            tables = tcp_tables([_LISTEN_LOOPBACK])
            self.assertIsNone(platform_shim.port_state(plat, 40011, '127.0.0.1', socket.AF_INET,
                                                       socket.SOCK_STREAM, tables), plat.name)
            self.assertEqual(tables.paths, [], plat.name)


@on_linux
class PortStateRealLinuxTest(FdLeakMixin, unittest.TestCase):
    """port_state() against the running kernel's /proc/net."""

    def test_real_listener_udp_and_bound_socket(self):
        plat = platform_shim.current()
        sock = new_socket(self)
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
        # A TCP socket bound but not listening is not in the table.
        self.assertEqual(platform_shim.port_state(plat, port, '127.0.0.1', socket.AF_INET,
                                                  socket.SOCK_STREAM).state, 'free')
        sock.listen(1)
        self.assertEqual(platform_shim.port_state(plat, port, '127.0.0.1', socket.AF_INET,
                                                  socket.SOCK_STREAM),
                         platform_shim.PortState('listening', 'LISTEN', '/proc/net/tcp',
                                                 '127.0.0.1'))
        udp = new_socket(self, type=socket.SOCK_DGRAM)
        udp.bind(('127.0.0.1', 0))
        state, exc = self.assertNoFdLeak(
            platform_shim.port_state, plat, udp.getsockname()[1], '127.0.0.1', socket.AF_INET,
            socket.SOCK_DGRAM)
        self.assertIsNone(exc)
        self.assertEqual((state.state, state.table_state, state.source),
                         ('bound', 'UNCONN', '/proc/net/udp'))
