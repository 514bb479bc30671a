"""Every Python 2/3 difference testsupport needs, and nothing else.

Branch on ``PY2`` so that any later version takes the default (Python 3) path.
"""
from __future__ import absolute_import, division, print_function

import os
import socket
import sys
import time

PY2 = sys.version_info[0] == 2

if PY2:
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


def url_error_classes():
    """``(URLError, HTTPError)``, imported on first use: urllib loads ssl, http and more."""
    if PY2:
        import urllib2 as module
    else:
        import urllib.error as module
    return module.URLError, module.HTTPError


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
