"""The ``python -m testsupport`` command line.

``info [--json]`` reports what the platform shim found on this machine: the
first thing to run, and what to paste into a bug report. ``port [--udp]
[--ipv6] [-n N] [--lease SECONDS]`` prints N leased free ports, one a line,
for shell scripts; ``release PORT...`` ends such leases early. Installed as
``python -m testsupport`` and as the console script ``testsupport``.
"""
from __future__ import absolute_import, division, print_function

import argparse
import json
import platform as _stdlib_platform
import socket
import sys

from . import _config, _detached, _sockets, platform_shim, socket_helper

__all__ = ['main']


def _yes_no(value):
    return 'yes' if value else 'no'


def info_report():
    """Return the facts ``info`` prints, as a list of ``(key, value)`` pairs."""
    import testsupport

    plat = platform_shim.current()
    low, high = plat.ephemeral_port_range()
    unix_reason = _sockets.unix_bind_problem(plat)
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
    ] + _detached.describe() + [
        ('free_tcp_port', _free_port()),
    ]


def _free_port():
    """A leased free TCP port, or the error text when none can be had."""
    try:
        return socket_helper.find_unused_port()
    except (ValueError, socket.error, Warning) as exc:  # Warning: under -W error
        return 'error: %s' % (exc,)


def _print_info(as_json, out):
    report = info_report()
    status = 1 if 'port_config_error' in dict(report) else 0
    if as_json:
        text = json.dumps(dict(report), sort_keys=True, indent=2) + '\n'
    else:
        lines = []
        for key, value in report:
            if isinstance(value, bool):
                value = _yes_no(value)
            elif isinstance(value, list):
                value = '%d-%d' % tuple(value)
            elif value is None:
                continue
            lines.append('%-22s %s\n' % (key + ':', value))
        text = ''.join(lines)
    try:
        out.write(text)
        out.flush()
    except _WRITE_ERRORS as exc:
        _silence_stdout(out)
        _write_err('%s info: error: cannot write the report (%s)\n' % (_PROG, _why(exc)))
        return 1
    return status


_PROG = 'python -m testsupport'


def _parser():
    parser = argparse.ArgumentParser(
        prog=_PROG,
        description='Socket helpers for tests: report what this machine offers, lease ports.')
    commands = parser.add_subparsers(dest='command', metavar='COMMAND')
    info = commands.add_parser('info', help='report IPv6, AF_UNIX, socket options, '
                                            'port ranges and a free port')
    info.add_argument('--json', action='store_true', help='print a JSON object')
    port = commands.add_parser('port', help='print free ports, one a line, leased for '
                                            'TESTSUPPORT_PORT_LEASE seconds (or --lease)')
    port.add_argument('--udp', action='store_true', help='UDP ports (default: TCP)')
    port.add_argument('--ipv6', action='store_true', help='bindable on ::1 (default: 127.0.0.1)')
    port.add_argument('-n', type=_positive_int, default=1, metavar='N',
                      help='how many ports (default: 1)')
    port.add_argument('--lease', type=_lease_seconds, default=None, metavar='SECONDS',
                      help='how long the ports stay leased (default: TESTSUPPORT_PORT_LEASE, '
                           'else 60)')
    release = commands.add_parser('release', help='end the leases of ports printed by "port"')
    # nargs='*' and a check of our own: 2.7's argparse says only "too few arguments".
    release.add_argument('ports', type=_port_number, nargs='*', metavar='PORT')
    return parser


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError('expected a whole number of ports >= 1, got %r' % text)
    return value


def _lease_seconds(text):
    try:
        return _config.parse_lease(text, '--lease')
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc))


def _port_number(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError('expected a port number in 1..65535, got %r' % text)
    return value


def _error(command, exc):
    # A socket error's text without its "[Errno 98]" prefix.
    message = getattr(exc, 'strerror', None) or exc
    _write_err('%s %s: error: %s\n' % (_PROG, command, message))
    return 1


#: What writing to a closed or broken stream raises; AttributeError: Python 3
#: sets sys.stdout/sys.stderr to None when the descriptor was closed at start.
_WRITE_ERRORS = (IOError, OSError, ValueError, AttributeError)


def _why(exc):
    return 'the stream is closed' if isinstance(exc, AttributeError) else exc


def _write_err(text):
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except _WRITE_ERRORS:
        pass  # stderr is closed too: the exit status still tells


def _print_ports(args, out):
    """The ``port`` command: lease ports, print them, then hold them beyond this process.

    The leases are handed to a holder only once every port was written out, so
    a closed stdout (``port -n 3 | true``) leaves nothing leased.
    """
    family = socket.AF_INET6 if args.ipv6 else socket.AF_INET
    socktype = socket.SOCK_DGRAM if args.udp else socket.SOCK_STREAM
    try:
        ports, keeper = _detached.lease_detached_ports(args.n, family, socktype, args.lease)
    except (ValueError, socket.error, Warning) as exc:  # Warning: under -W error
        return _error('port', exc)
    try:
        out.write(''.join('%d\n' % port for port in ports))
        out.flush()
    except _WRITE_ERRORS as exc:
        keeper.give_back()
        _silence_stdout(out)
        _write_err('%s port: error: cannot write the ports (%s); nothing stays leased\n'
                   % (_PROG, _why(exc)))
        return 1
    try:
        keeper.hold()
    except (IOError, OSError) as exc:
        return _error('port', exc)
    return 0


def _silence_stdout(out):
    """After a write to a closed pipe: point stdout at /dev/null so exit does not complain."""
    if out is not sys.stdout or out is None:
        return
    import os
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (IOError, OSError, ValueError):
        pass


def _release_ports(args, out):
    """The ``release`` command: end the detached leases of the ports given."""
    if not args.ports:
        _write_err('%s release: error: name the ports to release, as "port" printed them, '
                   'e.g. %s release 20001 20002\n' % (_PROG, _PROG))
        return 2
    try:
        problems = _detached.release_detached_ports(args.ports)
    except (ValueError, socket.error, Warning) as exc:  # Warning: under -W error
        return _error('release', exc)
    for problem in problems:
        _write_err('%s release: error: %s\n' % (_PROG, problem))
    return 1 if problems else 0


def main(argv=None, stdout=None):
    """Run the command line with *argv* (default ``sys.argv[1:]``); return the exit status."""
    out = stdout or sys.stdout
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _parser()
    # Checked here: 2.7's argparse would only say "too few arguments".
    if not argv or (argv[0].startswith('-') and argv[0] not in ('-h', '--help')):
        _write_err(parser.format_usage())
        later = (' (options go after it, e.g. "info --json"; got %r)' % argv[0]) if argv else ''
        _write_err('%s: error: name a command: "info", "port" or "release"%s\n'
                   % (_PROG, later))
        return 2
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help and on bad usage
        return exc.code
    except _WRITE_ERRORS:  # 2.7: --help or a usage error written to a closed stream
        _silence_stdout(out)
        return 2
    if args.command == 'port':
        return _print_ports(args, out)
    if args.command == 'release':
        return _release_ports(args, out)
    return _print_info(args.json, out)


def run():
    """The ``testsupport`` console script."""
    sys.exit(main())
