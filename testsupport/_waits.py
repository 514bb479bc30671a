"""Polling and one-shot connects: what the waits of servers and server_process share."""
from __future__ import absolute_import, division, print_function

import socket

from . import _compat, _sockets, socket_helper

__all__ = [
    'FIRST_PAUSE',
    'LONGEST_ATTEMPT',
    'LONGEST_PAUSE',
    'PAUSE_GROWTH',
    'describe_error',
    'poll',
    'retry_errnos',
    'try_connect',
    'wait_readable',
]

# wait_for_port back-off: first pause, growth factor, longest pause (seconds).
FIRST_PAUSE = 0.005
PAUSE_GROWTH = 2.0
LONGEST_PAUSE = 0.25
# Longest single connect attempt, so that a black-holed SYN cannot use up the wait.
LONGEST_ATTEMPT = 1.0

def retry_errnos(platform):
    return set(platform.conn_refused_errnos(socket_helper.IPV6_ENABLED)
               + [platform.errnos['ECONNRESET'], platform.errnos['ETIMEDOUT']])


def try_connect(host, port, timeout, platform, caller):
    """Connect once; None if something accepted, else the (retryable) error."""
    try:
        sock = socket.create_connection((host, port), timeout)
    except _compat.TIMEOUT_ERRORS as exc:
        return exc
    except socket.gaierror as exc:
        raise socket.gaierror(exc.errno, '%s(): cannot resolve host %r: %s; wait on an IP '
                              'address such as HOST (%r) or HOSTv6 (%r)'
                              % (caller, host, exc.args[-1], _sockets.HOST, _sockets.HOSTv6))
    except _compat.OS_ERRORS as exc:
        if platform.errno_of(exc) in retry_errnos(platform):
            return exc
        raise
    sock.close()
    return None


def describe_error(exc):
    if exc is None:
        return 'a connection was accepted'
    return '%s: %s' % (type(exc).__name__, exc or 'timed out')


def poll(check, timeout, clock, sleep):
    """Call ``check()`` until it returns True or *timeout* passes; return the last result."""
    deadline = clock() + timeout
    pause = FIRST_PAUSE
    while True:
        remaining = deadline - clock()
        if check(max(remaining, 0.0)):
            return True
        remaining = deadline - clock()
        if remaining <= 0:
            return False
        sleep(min(pause, remaining))
        pause = min(pause * PAUSE_GROWTH, LONGEST_PAUSE)


def wait_readable(source, timeout):
    """True if *source* (a descriptor, or an object with ``fileno()``) is readable within
    *timeout* seconds; False on timeout or when a signal interrupts the wait (2.7)."""
    import select  # not at import time: 2.7's socket module does not load it
    fd = source if isinstance(source, int) else source.fileno()
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    try:
        return bool(poller.poll(int(timeout * 1000 + 0.999)))
    except (select.error, OSError):  # EINTR on 2.7 (3.5+ retries)
        return False
