"""Who holds a local port: the operating system's socket tables, read without connecting.

:func:`port_state` reads how the local sockets hold an address (Linux'
``/proc/net``); :func:`listening_ports` finds the TCP ports a process tree
listens on (``/proc/<pid>/fd`` against ``/proc/net/tcp``, ``lsof``, or
Windows' ``GetExtendedTcpTable``), chosen by the platform's ``port_table`` and
``port_discovery`` fields.
"""
from __future__ import absolute_import, division, print_function

import socket
import sys

from . import _processes, _system

__all__ = [
    'PortState',
    'listening_ports',
    'listening_sockets',
    'port_state',
    'socket_inodes',
]


# -- The state of a local port, read without connecting to it (servers.port_in_use
# and the mixin's assertions). Linux lists its sockets in /proc/net; elsewhere
# the answer is None and callers fall back to a bind() probe.

#: TCP state codes of /proc/net/tcp (include/net/tcp_states.h): (kind, name).
_TCP_STATES = {
    '01': ('connected', 'ESTABLISHED'), '02': ('connected', 'SYN_SENT'),
    '03': ('connected', 'SYN_RECV'), '04': ('connected', 'FIN_WAIT1'),
    '05': ('connected', 'FIN_WAIT2'), '06': ('time_wait', 'TIME_WAIT'),
    '07': ('bound', 'CLOSE'), '08': ('connected', 'CLOSE_WAIT'),
    '09': ('connected', 'LAST_ACK'), '0A': ('listening', 'LISTEN'),
    '0B': ('connected', 'CLOSING'), '0C': ('connected', 'NEW_SYN_RECV'),
}
#: /proc/net/udp reuses the codes: 07 is a bound, unconnected socket, 01 a connected one.
_UDP_STATES = {'01': ('connected', 'ESTABLISHED'), '07': ('bound', 'UNCONN')}
#: Which kind wins when several sockets hold the port.
_KIND_ORDER = ('listening', 'connected', 'bound', 'time_wait')
_V4_MAPPED = bytearray(b'\0' * 10 + b'\xff\xff')


class PortState(object):
    """What :func:`port_state` found: ``state`` and where it read it.

    ``state`` is ``'listening'``, ``'connected'`` (a connection uses the port
    as its local port), ``'bound'`` (a UDP socket, or a TCP socket the table
    shows in CLOSE), ``'time_wait'`` or ``'free'`` (no socket in the table
    holds the address). ``table_state`` is the table's name for it
    (``'LISTEN'``, ``'TIME_WAIT'``, ``'UNCONN'``; None when free), ``source``
    the file(s) read and ``address`` the local address of the socket found
    (e.g. ``'0.0.0.0'`` for a wildcard that covers the host; None when free).

    .. versionadded:: 0.1.0
    """

    __slots__ = ('state', 'table_state', 'source', 'address')

    def __init__(self, state, table_state=None, source=None, address=None):
        self.state = state
        self.table_state = table_state
        self.source = source
        self.address = address

    def __eq__(self, other):
        return isinstance(other, PortState) and all(
            getattr(self, f) == getattr(other, f) for f in self.__slots__)

    def __ne__(self, other):
        return not self == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self):
        return 'PortState(%s)' % ', '.join('%s=%r' % (f, getattr(self, f))
                                           for f in self.__slots__)


def port_state(platform, port, host, family, socktype, read_file=None, byteorder=None):
    """How the local sockets hold (*host*, *port*), found without connecting.

    Returns a :class:`PortState`, or None where this platform has no table to
    read (``platform.port_table`` is None: macOS, BSD, Windows), the table is
    unreadable, *host* is not an IP address literal (a name such as
    ``'localhost'``) or *socktype* is neither SOCK_STREAM nor SOCK_DGRAM.
    Linux (``'procfs'``) reads ``/proc/net/{tcp,udp}`` and their ``6`` twins,
    and counts a socket whose local address is *host*, a wildcard of the same
    family (``0.0.0.0``, ``::``) or, for IPv4, its v4-mapped form
    (``::ffff:127.0.0.1``); a dual-stack ``[::]`` socket is not counted, since
    the table does not say whether it is IPv6-only. The table omits TCP
    sockets that are bound but not listening, so ``'free'`` does not promise
    that ``bind()`` works. *read_file* replaces file reading and *byteorder*
    ``sys.byteorder`` (the kernel prints addresses as native 32-bit words);
    tests pass both.

    .. versionadded:: 0.1.0
    """
    if platform.port_table != 'procfs':
        return None
    states = {socket.SOCK_STREAM: ('tcp', _TCP_STATES),
              socket.SOCK_DGRAM: ('udp', _UDP_STATES)}.get(socktype)
    wanted = _ip_bytes(family, host)
    if states is None or wanted is None:
        return None
    name, codes = states
    read_file = read_file or _system.read_text_file
    shifts = (0, 8, 16, 24) if (byteorder or sys.byteorder) == 'little' else (24, 16, 8, 0)
    read, found = [], []
    for path in ('/proc/net/' + name, '/proc/net/' + name + '6'):
        text = read_file(path)
        if text is None:
            continue
        read.append(path)
        for line in text.splitlines():
            entry = _parse_port_table_line(line, shifts)
            if entry is None or entry[1] != port or entry[2] not in codes:
                continue
            if _address_covers(entry[0], wanted):
                kind, state_name = codes[entry[2]]
                found.append((_KIND_ORDER.index(kind), kind, state_name, path, entry[0]))
    if not read:
        return None
    if not found:
        return PortState('free', source=' and '.join(read))
    _, kind, state_name, path, address = min(found, key=lambda item: item[0])
    family_of = socket.AF_INET if len(address) == 4 else socket.AF_INET6
    return PortState(kind, state_name, path, socket.inet_ntop(family_of, bytes(address)))


def _ip_bytes(family, host):
    """*host* as a bytearray of 4 or 16 bytes, or None if it is not a literal of *family*."""
    if family not in (socket.AF_INET, getattr(socket, 'AF_INET6', None)):
        return None
    try:
        return bytearray(socket.inet_pton(family, host))
    except (ValueError, TypeError, OSError, socket.error):
        return None


def _parse_port_table_line(line, shifts):
    """``(address bytes, port, state code)`` of one /proc/net line, or None (the header)."""
    fields = line.split()
    if len(fields) < 4 or ':' not in fields[1]:
        return None
    address, _, port = fields[1].partition(':')
    if len(address) not in (8, 32):
        return None
    try:
        raw = bytearray((int(address[i:i + 8], 16) >> shift) & 0xff
                        for i in range(0, len(address), 8) for shift in shifts)
        return raw, int(port, 16), fields[3].upper()
    except ValueError:
        return None


def _address_covers(entry, wanted):
    """True if a socket on the address *entry* keeps a plain bind() to *wanted* from working.

    Both are bytearrays; IPv4-mapped IPv6 addresses count as IPv4. Equal
    addresses cover each other, and a wildcard (all zero) covers its family.
    """
    if len(entry) == 16 and entry[:12] == _V4_MAPPED:
        entry = entry[12:]
    if len(wanted) == 16 and wanted[:12] == _V4_MAPPED:
        wanted = wanted[12:]
    if len(entry) != len(wanted):
        return False
    return entry == wanted or not any(entry) or not any(wanted)


# -- Server processes (server_process.start_server_process): which TCP ports a process
# tree listens on, and ending its process group. The system calls are
# parameters, so tests describe macOS and Windows with fakes.

#: The TCP state ``/proc/net/tcp`` writes for LISTEN.
_PROCFS_LISTEN = '0A'
#: MIB_TCP_STATE_LISTEN, and GetExtendedTcpTable's TCP_TABLE_OWNER_PID_LISTENER.
_WINDOWS_TCP_STATE_LISTEN = 2
_WINDOWS_TCP_TABLE_OWNER_PID_LISTENER = 3
_WINDOWS_ERROR_INSUFFICIENT_BUFFER = 122
#: Windows' AF_INET6 (23); AF_INET is 2 everywhere.
_WINDOWS_AF_INET6 = 23


def listening_ports(platform, pid, read_file=None, list_dir=None, read_link=None, run=None,
                    tcp_table=None):
    """The ``(host, port)`` TCP addresses the process tree of *pid* listens on, sorted.

    *host* is as the kernel reports it (``'0.0.0.0'`` or ``'::'`` for a wildcard
    bind). How depends on ``platform.port_discovery``: ``'procfs'`` matches the
    socket inodes in ``/proc/<n>/fd`` of :func:`process_tree` against the LISTEN
    rows (state 0A) of ``/proc/net/tcp`` and ``tcp6``; ``'lsof'`` runs ``lsof -a
    -g <pid> -iTCP -sTCP:LISTEN`` (the child leads its own process group);
    ``'iphlpapi'`` reads Windows' ``GetExtendedTcpTable`` rows owned by *pid*.

    Returns None when this platform cannot tell (``lsof`` is not installed, or
    the table cannot be read): the caller says so, rather than waiting for a
    port it will never see. *read_file*, *list_dir*, *read_link*, *run* and
    *tcp_table* (``tcp_table(family) -> bytes or None``) replace the system
    calls (tests pass fakes).
    """
    if platform.port_discovery == 'procfs':
        return _procfs_listening(_processes.process_tree(platform, pid, read_file, list_dir),
                                 read_file,
                                 list_dir or _system.list_directory,
                                 read_link or _processes.read_symlink)
    if platform.port_discovery == 'lsof':
        return _lsof_listening(pid, run or _system.run_command)
    if platform.port_discovery == 'iphlpapi':
        return _windows_listening(pid, tcp_table or _windows_tcp_table)
    return None


def listening_sockets(platform, read_file=None):
    """``{inode: (host, port)}`` of every TCP socket in LISTEN on the host (inode: a str).

    A cheap test of whether any process started listening since the last call:
    on Linux one netlink (sock_diag) dump of the listening sockets, about
    0.1 ms, where reading ``/proc/net/tcp`` walks every connection (10 ms
    with a few hundred in TIME_WAIT); ``/proc/net/tcp{,6}`` if netlink is
    refused. None where ``platform.port_discovery`` is not ``'procfs'`` or
    nothing can be read. *read_file* replaces file reading and skips netlink
    (tests pass a fake).
    """
    if platform.port_discovery != 'procfs':
        return None
    return _procfs_listeners(read_file)


def socket_inodes(pid, list_dir=None, read_link=None):
    """The inode numbers (str) of the sockets process *pid* holds (``/proc/<pid>/fd``).

    An empty set if the process is gone or not ours to read. *list_dir* and
    *read_link* replace ``os.listdir`` and ``os.readlink`` (tests pass fakes).
    """
    list_dir = list_dir or _system.list_directory
    read_link = read_link or _processes.read_symlink
    found = set()
    try:
        names = list_dir('/proc/%d/fd' % pid)
    except (OSError, IOError):  # gone, or not ours to read
        return found
    for name in names:
        try:
            target = read_link('/proc/%d/fd/%s' % (pid, name))
        except (OSError, IOError):
            continue
        if target.startswith('socket:['):
            found.add(target[8:-1])
    return found


# sock_diag over netlink (linux/sock_diag.h, linux/inet_diag.h, linux/netlink.h).
_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST_DUMP = 0x301
_NLMSG_ERROR = 2
_NLMSG_DONE = 3
_TCP_LISTEN_BIT = 1 << 10
_NLMSG_HEADER = 16


def _netlink_listeners():
    """``{inode: (host, port)}`` of the host's listening TCP sockets, or None on any error."""
    import struct
    found = {}
    for family in (socket.AF_INET, getattr(socket, 'AF_INET6', None)):
        if family is None:
            continue
        try:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG)
        except (AttributeError, socket.error, OSError):
            return None
        try:
            request = struct.pack('=BBBBI', family, socket.IPPROTO_TCP, 0, 0,
                                  _TCP_LISTEN_BIT) + b'\0' * 48
            sock.sendto(struct.pack('=IHHII', _NLMSG_HEADER + len(request),
                                    _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST_DUMP, 1, 0)
                        + request, (0, 0))
            done = False
            while not done:
                data = sock.recv(65536)
                if not data:
                    return None
                offset = 0
                while offset + _NLMSG_HEADER <= len(data):
                    length, kind = struct.unpack_from('=IH', data, offset)
                    if kind == _NLMSG_DONE:
                        done = True
                        break
                    if kind == _NLMSG_ERROR or length < _NLMSG_HEADER + 72:
                        if family == socket.AF_INET:
                            return None
                        done = True  # no IPv6 in this kernel
                        break
                    body = offset + _NLMSG_HEADER
                    port = struct.unpack_from('!H', data, body + 4)[0]
                    raw = data[body + 8:body + 8 + (4 if family == socket.AF_INET else 16)]
                    inode = struct.unpack_from('=I', data, body + 68)[0]
                    found[str(inode)] = (socket.inet_ntop(family, raw)
                                         if family != socket.AF_INET else socket.inet_ntoa(raw),
                                         port)
                    offset += (length + 3) & ~3
        except (socket.error, OSError, struct.error, ValueError):
            return None
        finally:
            sock.close()
    return found


def _procfs_listeners(read_file):
    """``{inode: (host, port)}`` of the listening TCP sockets (netlink, else /proc/net)."""
    if read_file is None:
        found = _netlink_listeners()
        if found is not None:
            return found
    read_file = read_file or _system.read_text_file
    listeners, read = {}, False
    for path in ('/proc/net/tcp', '/proc/net/tcp6'):
        text = read_file(path)
        if text is None:
            continue
        read = True
        for line in text.splitlines()[1:]:
            parts = line.split()
            if len(parts) < 10 or parts[3] != _PROCFS_LISTEN:
                continue
            address, _, port = parts[1].partition(':')
            listeners[parts[9]] = (_procfs_host(address), int(port, 16))
    return listeners if read else None


def _procfs_host(hex_address):
    """``'0100007F'`` -> ``'127.0.0.1'``: /proc/net/tcp{,6} write 32-bit words in host order."""
    import binascii
    import struct
    raw = binascii.unhexlify(hex_address)
    words = struct.unpack('=%dI' % (len(raw) // 4), raw)
    packed = struct.pack('!%dI' % len(words), *words)
    if len(packed) == 4:
        return socket.inet_ntoa(packed)
    return socket.inet_ntop(socket.AF_INET6, packed)


def _procfs_listening(pids, read_file, list_dir, read_link):
    listeners = _procfs_listeners(read_file) or {}
    found = set()
    for pid in pids:
        for inode in socket_inodes(pid, list_dir, read_link):
            if inode in listeners:
                found.add(listeners[inode])
    return sorted(found)


def _lsof_listening(pgid, run):
    returncode, output = run(['lsof', '-a', '-g', str(pgid), '-iTCP', '-sTCP:LISTEN',
                              '-P', '-n', '-Ftn'])
    if returncode not in (0, 1):  # 1: nothing matched; None: lsof did not start
        return None
    found = set()
    kind = 'IPv4'
    for line in output.splitlines():
        if line.startswith('t'):
            kind = line[1:]
        elif line.startswith('n') and ':' in line and '->' not in line:
            host, _, port = line[1:].rpartition(':')
            host = host.strip('[]')
            if host == '*':
                host = '::' if kind == 'IPv6' else '0.0.0.0'
            port = _system.to_int(port)
            if port:
                found.add((host, port))
    return sorted(found)


def _windows_listening(pid, tcp_table):
    import struct
    found = set()
    readable = False
    for family, row_size in ((socket.AF_INET, 24), (_WINDOWS_AF_INET6, 56)):
        raw = tcp_table(family)
        if raw is None:
            continue
        readable = True
        count = struct.unpack('=I', raw[:4])[0]
        for index in range(count):
            row = raw[4 + index * row_size:4 + (index + 1) * row_size]
            if len(row) < row_size:
                break
            if family == socket.AF_INET:
                state, = struct.unpack('=I', row[0:4])
                host = socket.inet_ntoa(row[4:8])
                port, = struct.unpack('!H', row[8:10])
                owner, = struct.unpack('=I', row[20:24])
            else:
                host = _format_ipv6(row[0:16])
                port, = struct.unpack('!H', row[20:22])
                state, owner = struct.unpack('=II', row[48:56])
            if state == _WINDOWS_TCP_STATE_LISTEN and owner == pid:
                found.add((host, port))
    return sorted(found) if readable else None


def _format_ipv6(packed):
    import binascii
    text = binascii.hexlify(packed).decode('ascii')
    groups = [text[i:i + 4].lstrip('0') or '0' for i in range(0, 32, 4)]
    full = ':'.join(groups)
    if full == '0:0:0:0:0:0:0:0':
        return '::'
    if full == '0:0:0:0:0:0:0:1':
        return '::1'
    return full


def _windows_tcp_table(family, iphlpapi=None):
    """The raw MIB_TCP(6)TABLE_OWNER_PID of listening sockets, or None."""
    import ctypes
    if iphlpapi is None:
        iphlpapi = ctypes.windll.iphlpapi  # pragma: no cover (windows)
    size = ctypes.c_ulong(0)
    for _ in range(5):  # the table can grow between the size query and the read
        buf = ctypes.create_string_buffer(max(size.value, 4))
        result = iphlpapi.GetExtendedTcpTable(buf, ctypes.pointer(size), False, family,
                                              _WINDOWS_TCP_TABLE_OWNER_PID_LISTENER, 0)
        if result == 0:
            return buf.raw[:size.value]
        if result != _WINDOWS_ERROR_INSUFFICIENT_BUFFER:
            return None
    return None
