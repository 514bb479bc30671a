"""The ``python -m testsupport`` command line.

``info [--json]`` reports what the platform shim found on this machine: the
first thing to run, and what to paste into a bug report. ``port [--udp]
[--ipv6] [-n N]`` prints N leased free ports, one a line, for shell scripts.
"""
from __future__ import absolute_import, division, print_function

import argparse
import json
import platform as _stdlib_platform
import socket
import sys

from . import allocator, platform_shim, socket_helper

__all__ = ['main']


def _yes_no(value):
    return 'yes' if value else 'no'


def info_report():
    """Return the facts ``info`` prints, as a list of ``(key, value)`` pairs."""
    import testsupport

    plat = platform_shim.current()
    low, high = plat.ephemeral_port_range()
    unix_reason = socket_helper._unix_bind_probe()
    return [
        ('testsupport', testsupport.__version__),
        ('python', '%s %s (%s)' % (_stdlib_platform.python_implementation(),
                                   _stdlib_platform.python_version(), sys.executable)),
        ('platform', '%s (sys.platform %r, %s)' % (plat.name, sys.platform,
                                                   _stdlib_platform.platform())),
        ('host', socket_helper.HOST),
        ('ipv6', socket_helper.IPV6_ENABLED),
        ('af_unix_bind', unix_reason is None),
        ('af_unix_reason', unix_reason),
        ('so_reuseport', plat.so_reuseport is not None),
        ('so_exclusiveaddruse', plat.so_exclusiveaddruse is not None),
        ('ephemeral_port_range', [low, high]),
        ('tcp_blackhole', socket_helper.tcp_blackhole()),
    ] + allocator._describe() + [
        ('free_tcp_port', _free_port()),
    ]


def _free_port():
    """A leased free TCP port, or the error text when none can be had."""
    try:
        return socket_helper.find_unused_port()
    except (ValueError, socket.error) as exc:
        return 'error: %s' % (exc,)


def _print_info(as_json, out):
    report = info_report()
    status = 1 if 'port_config_error' in dict(report) else 0
    if as_json:
        out.write(json.dumps(dict(report), sort_keys=True, indent=2) + '\n')
        return status
    for key, value in report:
        if isinstance(value, bool):
            value = _yes_no(value)
        elif isinstance(value, list):
            value = '%d-%d' % tuple(value)
        elif value is None:
            continue
        out.write('%-22s %s\n' % (key + ':', value))
    return status


def _parser():
    parser = argparse.ArgumentParser(
        prog='python -m testsupport',
        description='Socket helpers for tests: report what this machine offers.')
    commands = parser.add_subparsers(dest='command', metavar='COMMAND')
    info = commands.add_parser('info', help='report IPv6, AF_UNIX, socket options, '
                                            'port ranges and a free port')
    info.add_argument('--json', action='store_true', help='print a JSON object')
    port = commands.add_parser('port', help='print free ports, one a line, leased for '
                                            'TESTSUPPORT_PORT_LEASE seconds')
    port.add_argument('--udp', action='store_true', help='UDP ports (default: TCP)')
    port.add_argument('--ipv6', action='store_true', help='bindable on ::1 (default: 127.0.0.1)')
    port.add_argument('-n', type=_positive_int, default=1, metavar='N',
                      help='how many ports (default: 1)')
    return parser


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError('expected a whole number of ports >= 1, got %r' % text)
    return value


def _print_ports(args, out):
    """The ``port`` command: lease ports beyond this process and print them."""
    family = socket.AF_INET6 if args.ipv6 else socket.AF_INET
    socktype = socket.SOCK_DGRAM if args.udp else socket.SOCK_STREAM
    try:
        ports = allocator._detached_ports(args.n, family, socktype)
    except (ValueError, socket.error) as exc:
        # A socket error's text without its "[Errno 98]" prefix.
        message = getattr(exc, 'strerror', None) or exc
        sys.stderr.write('python -m testsupport port: error: %s\n' % (message,))
        return 1
    out.write(''.join('%d\n' % port for port in ports))
    return 0


def main(argv=None, stdout=None):
    """Run the command line with *argv* (default ``sys.argv[1:]``); return the exit status."""
    out = stdout or sys.stdout
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _parser()
    if not argv:  # checked here: 2.7's argparse would only say "too few arguments"
        parser.print_usage(sys.stderr)
        sys.stderr.write('python -m testsupport: error: name a command: "info" or "port"\n')
        return 2
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help and on bad usage
        return exc.code
    if args.command == 'port':
        return _print_ports(args, out)
    return _print_info(args.json, out)
