"""Tests for testsupport._port_tables: /proc/net, lsof and GetExtendedTcpTable readers."""
from __future__ import absolute_import, division, print_function

import socket
import sys
import unittest

from testsupport import _port_tables, platform_shim
from testsupport.platform_shim import FREEBSD, LINUX, MACOS, WINDOWS
from tests.fakes import FakeModule
from tests.helpers import FdLeakMixin, new_socket

on_linux = unittest.skipUnless(sys.platform.startswith('linux'), 'checks the real Linux kernel')



class ListeningPortsEdgesTest(unittest.TestCase):

    def test_lsof_lines_without_a_port_are_skipped(self):
        output = 'p10\nf3\ntIPv4\nn127.0.0.1:*\nf4\nn127.0.0.1:8000\n'
        self.assertEqual(_port_tables.listening_ports(MACOS, 10, run=lambda cmd: (0, output)),
                         [('127.0.0.1', 8000)])

    def test_windows_ipv6_addresses_and_a_truncated_table(self):
        import struct

        def row6(address, port, state=2, pid=10):
            return (address + struct.pack('=I', 0) + struct.pack('!H', port) + b'\0\0'
                    + b'\0' * 16 + struct.pack('=IIII', 0, 0, state, pid))
        rows = [row6(b'\0' * 16, 9000), row6(b'\x20\x01\x0d\xb8' + b'\0' * 11 + b'\1', 9001)]
        raw6 = struct.pack('=I', 3) + b''.join(rows) + b'\0' * 10  # claims 3, has 2 and a bit
        tables = {23: raw6}
        self.assertEqual(_port_tables.listening_ports(WINDOWS, 10, tcp_table=tables.get),
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
        self.assertIsNone(_port_tables._windows_tcp_table(2, denied))
        self.assertEqual(denied.calls, 1)
        growing = Iphlpapi(122)  # ERROR_INSUFFICIENT_BUFFER, five times over
        self.assertIsNone(_port_tables._windows_tcp_table(2, growing))
        self.assertEqual(growing.calls, 5)


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
        return _port_tables.port_state(LINUX, port, host, family, socktype, tables, byteorder)

    def test_listening_ipv4_loopback(self):
        tables = tcp_tables([_ESTABLISHED_OTHER_PORT, _LISTEN_LOOPBACK])
        self.assertEqual(self.state(tables), _port_tables.PortState(
            'listening', 'LISTEN', '/proc/net/tcp', '127.0.0.1'))
        self.assertEqual(tables.paths, ['/proc/net/tcp', '/proc/net/tcp6'])

    def test_ipv4_wildcard_covers_loopback_and_loopback_covers_wildcard(self):
        self.assertEqual(self.state(tcp_tables([_LISTEN_WILDCARD])),
                         _port_tables.PortState('listening', 'LISTEN', '/proc/net/tcp',
                                                 '0.0.0.0'))
        self.assertEqual(self.state(tcp_tables([_LISTEN_LOOPBACK]), host='0.0.0.0').address,
                         '127.0.0.1')

    def test_other_address_or_port_is_free(self):
        tables = tcp_tables([_LISTEN_LOOPBACK, _ESTABLISHED_OTHER_PORT])
        free = _port_tables.PortState('free', source='/proc/net/tcp and /proc/net/tcp6')
        self.assertEqual(self.state(tables, host='127.0.0.2'), free)
        self.assertEqual(self.state(tables, port=8080), _port_tables.PortState(
            'connected', 'ESTABLISHED', '/proc/net/tcp', '127.0.0.1'))
        self.assertEqual(self.state(tables, port=40012), free)

    def test_time_wait(self):
        self.assertEqual(self.state(tcp_tables([_TIME_WAIT])), _port_tables.PortState(
            'time_wait', 'TIME_WAIT', '/proc/net/tcp', '127.0.0.1'))

    def test_listening_wins_over_time_wait(self):
        self.assertEqual(self.state(tcp_tables([_TIME_WAIT, _LISTEN_LOOPBACK])).state,
                         'listening')

    def test_ipv6_loopback_and_wildcard(self):
        loopback = tcp_tables(tcp6=[_LISTEN_V6_LOOPBACK])
        self.assertEqual(self.state(loopback, '::1', socket.AF_INET6), _port_tables.PortState(
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
        self.assertEqual(self.state(mapped), _port_tables.PortState(
            'listening', 'LISTEN', '/proc/net/tcp6', '::ffff:127.0.0.1'))
        self.assertEqual(self.state(tcp_tables([_LISTEN_LOOPBACK]), '::ffff:127.0.0.1',
                                    socket.AF_INET6).address, '127.0.0.1')
        self.assertEqual(self.state(mapped, '::1', socket.AF_INET6).state, 'free')

    def test_udp_bound(self):
        tables = FakeProcNet(udp=[_UDP_HEADER, _UDP_BOUND], udp6=[_UDP_HEADER])
        self.assertEqual(self.state(tables, socktype=socket.SOCK_DGRAM), _port_tables.PortState(
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
        self.assertEqual(repr(_port_tables.PortState('free', source='/proc/net/tcp')),
                         "PortState(state='free', table_state=None, "
                         "source='/proc/net/tcp', address=None)")
        self.assertNotEqual(_port_tables.PortState('free'), _port_tables.PortState('bound'))


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
            self.assertIsNone(_port_tables.port_state(plat, 40011, '127.0.0.1', socket.AF_INET,
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
        self.assertEqual(_port_tables.port_state(plat, port, '127.0.0.1', socket.AF_INET,
                                                  socket.SOCK_STREAM).state, 'free')
        sock.listen(1)
        self.assertEqual(_port_tables.port_state(plat, port, '127.0.0.1', socket.AF_INET,
                                                  socket.SOCK_STREAM),
                         _port_tables.PortState('listening', 'LISTEN', '/proc/net/tcp',
                                                 '127.0.0.1'))
        udp = new_socket(self, type=socket.SOCK_DGRAM)
        udp.bind(('127.0.0.1', 0))
        state, exc = self.assertNoFdLeak(
            _port_tables.port_state, plat, udp.getsockname()[1], '127.0.0.1', socket.AF_INET,
            socket.SOCK_DGRAM)
        self.assertIsNone(exc)
        self.assertEqual((state.state, state.table_state, state.source),
                         ('bound', 'UNCONN', '/proc/net/udp'))
