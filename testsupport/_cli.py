"""The ``python -m testsupport`` command line.

``info [--json]`` reports what the platform shim found on this machine: the
first thing to run, and what to paste into a bug report. ``port [--udp]
[--ipv6] [-n N] [--lease SECONDS]`` prints N leased free ports, one a line,
for shell scripts; ``release PORT...`` ends such leases early. Installed as
``python -m testsupport`` and as the console script ``testsupport``; the
documentation generates its reference from :func:`build_parser`.
"""
from __future__ import absolute_import, division, print_function

import argparse
import json
import platform as _stdlib_platform
import socket
import sys

from . import _config, _detached, _sockets, platform_shim, socket_helper

__all__ = ['build_parser', 'main']


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


def _print_info(as_json, out, prog):
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
        _write_err('%s info: error: cannot write the report (%s)\n' % (prog, _why(exc)))
        return 1
    return status


_PROG = 'testsupport'

# Each command's examples: (command line, what it does); {prog} is the command's
# own name ("testsupport port"), {top} the program's ("testsupport").
_TOP_EXAMPLES = [
    ('{prog} info', 'what this machine offers (for bug reports)'),
    ('{prog} info --json', 'the same facts, as one JSON object'),
    ('PORT=$({prog} port)', 'a free TCP port, leased for 60 s'),
    ('{prog} release "$PORT"', 'end that lease early'),
]
_TOP_NOTES = """\
"{prog} COMMAND --help" describes a command and its arguments.
exit status: 0 done, 1 failed (the reason is on stderr), 2 bad usage.
"""

_INFO_DESCRIPTION = """\
Report what testsupport finds on this machine: its version, the Python, the
platform, whether IPv6 and AF_UNIX binds work, the socket options, the OS
ephemeral port range, the port allocator's settings (TESTSUPPORT_PORT_*
variables) and a free TCP port. The first thing to run, and what to paste
into a bug report."""
_INFO_EXAMPLES = [
    ('{prog}', 'aligned "key: value" lines'),
    ('{prog} --json | python -m json.tool', 'one JSON object'),
]
_INFO_NOTES = """\
exit status 1 when a TESTSUPPORT_PORT_* variable is invalid; the report names
it on its port_config_error line.
"""

_PORT_DESCRIPTION = """\
Lease N free ports and print them, one a line. The leases outlive the
command: a small holder process keeps them for SECONDS, so that no other
test, worker or process using testsupport is handed the same ports
meanwhile. "release" ends them early."""
_PORT_EXAMPLES = [
    ('PORT=$({prog})', 'one TCP port, free on 127.0.0.1'),
    ('set -- $({prog} -n 3)', 'three ports, in $1 $2 $3'),
    ('{prog} --udp --ipv6 --lease 600', 'a UDP port free on ::1, for 10 min'),
    ('{top} release "$PORT"', 'give it back when the test is done'),
]
_PORT_NOTES = ''

_RELEASE_DESCRIPTION = """\
End leases that "port" took, before they run out, so that the ports can be
handed out again."""
_RELEASE_EXAMPLES = [
    ('{prog} 20001', 'one port'),
    ('{prog} $PORTS', 'the ports of PORTS=$({top} port -n 3)'),
]
_RELEASE_NOTES = """\
exit status 1 names the ports that "port" did not lease for this user
(released already, run out, or never leased).
"""


def _epilog(examples, notes, prog, top):
    """The help's closing text: each example with what it does below it, then *notes*.

    Laid out so that it also reads as reStructuredText (a definition list) in
    the documentation generated from :func:`build_parser`.
    """
    text = ''.join('  %s\n      %s\n' % (command.format(prog=prog, top=top),
                                         what.format(prog=prog, top=top))
                   for command, what in examples)
    notes = notes.format(prog=prog, top=top)
    return 'examples:\n' + text + ('\n' + notes if notes else '')


def _version_text():
    """What ``--version`` prints: ``testsupport X.Y.Z (Python X.Y.Z, implementation, path)``."""
    import testsupport

    return 'testsupport %s (Python %s, %s, %s)' % (
        testsupport.__version__, _stdlib_platform.python_version(),
        _stdlib_platform.python_implementation(), sys.executable)


class _VersionAction(argparse.Action):
    """``--version``: print :func:`_version_text` to stdout and exit 0 (2.7's prints to stderr)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help=None):
        super(_VersionAction, self).__init__(option_strings=option_strings, dest=dest,
                                             default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        sys.stdout.write(_version_text() + '\n')
        parser.exit()


class _PortsAction(argparse.Action):
    """``release PORT...``: at least one port (2.7's argparse says only "too few arguments")."""

    def __call__(self, parser, namespace, values, option_string=None):
        if not values:
            parser.error('name the ports to release, as "port" printed them, e.g. '
                         '%s 20001 20002' % parser.prog)
        setattr(namespace, self.dest, values)


def build_parser(prog=None):
    """Return the command line's :class:`argparse.ArgumentParser`.

    *prog* is the name its usage and examples show: ``testsupport`` (the
    default, the console script) or ``python -m testsupport``. The
    documentation's CLI reference is generated from it (sphinx-argparse:
    ``:module: testsupport._cli``, ``:func: build_parser``).
    """
    prog = prog or _PROG
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog=prog, formatter_class=raw,
        description='Socket helpers for tests, from the shell: report what this machine\n'
                    'offers (info), lease free ports for a test run (port) and give them\n'
                    'back (release).',
        epilog=_epilog(_TOP_EXAMPLES, _TOP_NOTES, prog, prog))
    parser.add_argument('--version', action=_VersionAction,
                        help='print the testsupport and Python versions and exit')
    commands = parser.add_subparsers(title='commands', dest='command', metavar='COMMAND')

    def add(name, summary, description, examples, notes, usage=None):
        epilog = _epilog(examples, notes, '%s %s' % (prog, name), prog)
        command = commands.add_parser(name, help=summary, description=description,
                                      usage=usage, epilog=epilog, formatter_class=raw)
        command.set_defaults(command_parser=command)  # for main()'s errors
        return command

    info = add('info', 'report IPv6, AF_UNIX, socket options, port ranges and a free port '
                       '("info --json": as JSON)', _INFO_DESCRIPTION, _INFO_EXAMPLES,
               _INFO_NOTES)
    info.add_argument('--json', action='store_true',
                      help='print one JSON object (the same keys; ranges as [low, high]; '
                           'true, false, null) instead of aligned "key: value" lines')

    port = add('port', 'print free ports, one a line, leased for 60 s (or --lease) beyond '
                       'the command', _PORT_DESCRIPTION, _PORT_EXAMPLES, _PORT_NOTES)
    port.add_argument('-n', type=_positive_int, default=1, metavar='N',
                      help='how many ports (default: 1), all different')
    port.add_argument('--udp', action='store_true', help='UDP ports (default: TCP)')
    port.add_argument('--ipv6', action='store_true',
                      help='ports free on ::1 (default: on 127.0.0.1)')
    port.add_argument('--lease', type=_lease_seconds, default=None, metavar='SECONDS',
                      help='how long the ports stay leased, at most 86400 (default: '
                           'TESTSUPPORT_PORT_LEASE, else 60)')

    release = add('release', 'end the leases of ports that "port" printed',
                  _RELEASE_DESCRIPTION, _RELEASE_EXAMPLES, _RELEASE_NOTES,
                  usage='%(prog)s [-h] PORT [PORT ...]')
    # nargs='*' and a check of our own: 2.7's argparse says only "too few arguments".
    release.add_argument('ports', type=_port_number, nargs='*', metavar='PORT',
                         action=_PortsAction,
                         help='a port that "port" printed (1-65535); name several to end '
                              'their leases together')
    return parser


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError('expected a whole number of ports >= 1, got %r; '
                                         'e.g. -n 3' % text)
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
        raise argparse.ArgumentTypeError('expected a port number in 1..65535, got %r; '
                                         'name ports as "port" printed them' % text)
    return value


def _error(prog, command, exc):
    """Write ``<prog> <command>: error: <message>`` to stderr; return 1."""
    # A socket error's text without its "[Errno 98]" prefix.
    message = str(getattr(exc, 'strerror', None) or exc)
    # The allocator words some messages for this command ("port: -n 11 is more
    # ports than ...", "port(): no free port in ..."): the prefix says that already.
    for said in (command + ': ', command + '(): '):
        if message.startswith(said):
            message = message[len(said):]
    _write_err('%s %s: error: %s\n' % (prog, command, message))
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


def _print_ports(args, out, prog):
    """The ``port`` command: lease ports, print them, then hold them beyond this process.

    The leases are handed to a holder only once every port was written out, so
    a closed stdout (``port -n 3 | true``) leaves nothing leased.
    """
    family = socket.AF_INET6 if args.ipv6 else socket.AF_INET
    socktype = socket.SOCK_DGRAM if args.udp else socket.SOCK_STREAM
    try:
        ports, keeper = _detached.lease_detached_ports(args.n, family, socktype, args.lease)
    except (ValueError, socket.error, Warning) as exc:  # Warning: under -W error
        return _error(prog, 'port', exc)
    try:
        out.write(''.join('%d\n' % port for port in ports))
        out.flush()
    except _WRITE_ERRORS as exc:
        keeper.give_back()
        _silence_stdout(out)
        _write_err('%s port: error: cannot write the ports (%s); nothing stays leased\n'
                   % (prog, _why(exc)))
        return 1
    try:
        keeper.hold()
    except (IOError, OSError) as exc:
        return _error(prog, 'port', exc)
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


def _release_ports(args, out, prog):
    """The ``release`` command: end the detached leases of the ports given."""
    try:
        left = _detached.release_detached_ports(args.ports)
    except (ValueError, socket.error, Warning) as exc:  # Warning: under -W error
        return _error(prog, 'release', exc)
    if left:
        _write_err('%s release: error: %s not leased by "port" for this user (released '
                   'already, run out, or never leased): %s\n'
                   % (prog, 'this port was' if len(left) == 1 else 'these ports were',
                      ' '.join(str(p) for p in left)))
        return 1
    return 0


def main(argv=None, stdout=None, prog=None):
    """Run the command line with *argv* (default ``sys.argv[1:]``); return the exit status.

    *stdout* (default ``sys.stdout``) receives the output, help included; *prog*
    is the name usage and errors show (default ``testsupport``).
    """
    out = stdout or sys.stdout
    prog = prog or _PROG
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(prog)
    # Checked here: 2.7's argparse would only say "too few arguments".
    if not argv or (argv[0].startswith('-') and argv[0] not in ('-h', '--help', '--version')):
        _write_err(parser.format_usage())
        why = ('(options go after it, e.g. "info --json"; got %r)' % argv[0]) if argv \
            else '(see --help)'
        _write_err('%s: error: name a command: "info", "port" or "release" %s\n' % (prog, why))
        return 2
    saved, sys.stdout = sys.stdout, out  # argparse prints --help to sys.stdout
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:  # said by the command, not by the top level as parse_args() would
            args.command_parser.error('unrecognized arguments: %s (see --help)'
                                      % ' '.join(extra))
    except SystemExit as exc:  # argparse exits on --help, --version and bad usage
        return exc.code
    except _WRITE_ERRORS:  # 2.7: --help or a usage error written to a closed stream
        sys.stdout = saved
        _silence_stdout(out)
        return 2
    finally:
        sys.stdout = saved
    if args.command == 'port':
        return _print_ports(args, out, prog)
    if args.command == 'release':
        return _release_ports(args, out, prog)
    return _print_info(args.json, out, prog)


def run():
    """The ``testsupport`` console script."""
    sys.exit(main(prog='testsupport'))
