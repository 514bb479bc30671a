"""Every Python 2/3 difference testsupport needs, and nothing else.

Branch on ``PY2`` so that any later version takes the default (Python 3) path.
"""
from __future__ import absolute_import, division, print_function

import os
import socket
import subprocess
import sys
import time

PY2 = sys.version_info[0] == 2

if PY2:
    import urllib2 as _urllib_error

    string_types = (str, unicode)  # noqa: F821
    integer_types = (int, long)  # noqa: F821
    #: Errors an OS call raises; socket.error is an IOError on 2.7, not an OSError.
    OS_ERRORS = (EnvironmentError,)
    #: What a socket timeout raises: socket.timeout, and TimeoutError where it exists.
    TIMEOUT_ERRORS = (socket.timeout,)
    monotonic = time.time
    socketserver_name = 'SocketServer'
    http_server_name = 'BaseHTTPServer'
    #: Base of the "waited too long" errors: TimeoutError where it exists.
    TimeoutErrorBase = OSError
else:
    import urllib.error as _urllib_error

    string_types = (str,)
    integer_types = (int,)
    OS_ERRORS = (OSError,)
    TIMEOUT_ERRORS = (socket.timeout, TimeoutError)
    monotonic = time.monotonic
    socketserver_name = 'socketserver'
    http_server_name = 'http.server'
    TimeoutErrorBase = TimeoutError

def at_fork_in_child(func):
    """Call *func* in the child after every os.fork() where Python can (3.7+)."""
    register = getattr(os, 'register_at_fork', None)
    if register is not None:
        register(after_in_child=func)


def spawn_keeping_fds(argv, fds):
    """Start *argv* detached (new session, stdio on /dev/null, cwd /) inheriting just *fds*.

    3.x passes them with ``pass_fds``; 2.7 has no such argument, so the child
    clears their close-on-exec flag and closes every other descriptor itself.
    Returns the Popen object.
    """
    import subprocess
    devnull = open(os.devnull, 'r+b')
    try:
        if not PY2:
            return subprocess.Popen(argv, stdin=devnull, stdout=devnull, stderr=devnull,
                                    cwd='/', close_fds=True, pass_fds=fds,
                                    start_new_session=True)
        keep = sorted(fds)

        def prepare():  # runs in the child, between fork and exec
            import fcntl
            os.setsid()
            bounds = [2] + keep + [65536]
            for low, high in zip(bounds, bounds[1:]):
                os.closerange(low + 1, high)
            for fd in keep:
                flags = fcntl.fcntl(fd, fcntl.F_GETFD)
                fcntl.fcntl(fd, fcntl.F_SETFD, flags & ~fcntl.FD_CLOEXEC)

        return subprocess.Popen(argv, stdin=devnull, stdout=devnull, stderr=devnull,
                                cwd='/', close_fds=False, preexec_fn=prepare)
    finally:
        devnull.close()


URLError = _urllib_error.URLError
HTTPError = _urllib_error.HTTPError


def exception_chain(exc):
    """Yield *exc*, then the exceptions it wraps (``__cause__``/``__context__``, args).

    urllib wraps socket errors in ``URLError.reason`` or in ``args`` (CPython's
    transient_internet unwraps args); Python 3 also chains them.
    """
    seen = set()
    todo = [exc]
    while todo:
        err = todo.pop(0)
        if err is None or id(err) in seen or not isinstance(err, BaseException):
            continue
        seen.add(id(err))
        yield err
        todo.append(getattr(err, 'reason', None))
        todo.extend(arg for arg in getattr(err, 'args', ()) if isinstance(arg, BaseException))
        todo.append(getattr(err, '__cause__', None))
        todo.append(getattr(err, '__context__', None))


if PY2:
    def popen_new_session(argv, keep_fd=None, new_session=True, **kwargs):
        """``subprocess.Popen(argv, **kwargs)`` in a new session, *keep_fd* left open.

        2.7 has neither ``pass_fds`` nor ``start_new_session``: with *keep_fd*
        the child inherits every descriptor (``close_fds=False``; it must close
        the others itself, as testsupport's LISTEN_FDS wrapper does), and a
        ``preexec_fn`` clears FD_CLOEXEC on *keep_fd* and calls ``setsid()``.
        *new_session* False (Windows) starts the child as it is.
        """
        def preexec():
            if keep_fd is not None:
                import fcntl
                flags = fcntl.fcntl(keep_fd, fcntl.F_GETFD)
                fcntl.fcntl(keep_fd, fcntl.F_SETFD, flags & ~fcntl.FD_CLOEXEC)
            os.setsid()

        if not new_session:
            return subprocess.Popen(argv, close_fds=keep_fd is None, **kwargs)
        return subprocess.Popen(argv, close_fds=keep_fd is None, preexec_fn=preexec, **kwargs)
else:
    def popen_new_session(argv, keep_fd=None, new_session=True, **kwargs):
        """``subprocess.Popen(argv, **kwargs)`` in a new session, *keep_fd* left open.

        ``pass_fds`` keeps *keep_fd* open and inheritable in the child (at the
        same number), every other descriptor is closed; ``start_new_session``
        makes the child lead a new session and process group.
        """
        pass_fds = () if keep_fd is None else (keep_fd,)
        return subprocess.Popen(argv, close_fds=True, pass_fds=pass_fds,
                                start_new_session=new_session, **kwargs)
