"""Test doubles: sockets and system calls for platforms we cannot run here, a clock."""
from __future__ import absolute_import, division, print_function

import errno
import socket


class FakeSocketError(socket.error):
    """A socket.error with an errno, as the kernel of a described platform raises it."""

    def __init__(self, number, text='fake error'):
        super(FakeSocketError, self).__init__(number, text)


class FakeSocket(socket.socket):
    """A real (closed-at-cleanup) socket object that records option and bind calls.

    It is a ``socket.socket`` subclass so isinstance checks pass, but it never
    opens a descriptor of its own: ``family``, ``type`` and the option values are
    whatever the test says, so it can stand for a Windows or macOS socket.

    *options* maps ``(level, option)`` to the value ``getsockopt`` returns; a
    value that is an exception instance is raised instead. ``calls`` lists
    ``('setsockopt', level, option, value)`` and ``('bind', address)`` tuples.
    """

    def __init__(self, family=socket.AF_INET, type=socket.SOCK_STREAM, options=None,
                 bind_error=None, port=40000, closed=False):
        # Deliberately not calling socket.socket.__init__: no descriptor is made.
        self._fake_family = family
        self._fake_type = type
        self.options = dict(options or {})
        self.bind_error = bind_error
        self.port = port
        self.closed = closed
        self.calls = []

    family = property(lambda self: self._fake_family)
    type = property(lambda self: self._fake_type)

    def fileno(self):
        if self.closed:
            return -1
        return 1000

    def getsockopt(self, level, option, *args):
        self.calls.append(('getsockopt', level, option))
        value = self.options.get((level, option), 0)
        if isinstance(value, BaseException):
            raise value
        return value

    def setsockopt(self, level, option, value):
        self.calls.append(('setsockopt', level, option, value))
        self.options[(level, option)] = value

    def bind(self, address):
        self.calls.append(('bind', address))
        if self.bind_error is not None:
            raise self.bind_error
        self.address = address

    def getsockname(self):
        return (self.address[0], self.port)

    def close(self):
        self.calls.append(('close',))
        self.closed = True

    def __del__(self):
        pass

    def __repr__(self):
        return '<FakeSocket family=%r type=%r>' % (self._fake_family, self._fake_type)


def enoent():
    return OSError(errno.ENOENT, 'No such file or directory')


class FakeClock(object):
    """A clock that moves only when the test sets ``now`` or the code under test sleeps.

    Call it for the time; pass ``clock.sleep`` as the sleep function. Records
    each pause in ``pauses`` and calls ``on_sleep(number of pauses so far)``.
    """

    def __init__(self, now=1000000.0, on_sleep=None):
        self.now = now
        self.pauses = []
        self.on_sleep = on_sleep

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.pauses.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep(len(self.pauses))


class FakeModule(object):
    """A stand-in for the socket or errno module of another system."""

    def __init__(self, **attrs):
        self.__dict__.update(attrs)
