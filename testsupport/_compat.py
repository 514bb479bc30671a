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
    #: socket.sendmsg()/recvmsg(), which pass descriptors (SCM_RIGHTS): not on 2.7.
    HAS_SENDMSG = False
else:
    string_types = (str,)
    integer_types = (int,)
    OS_ERRORS = (OSError,)
    TIMEOUT_ERRORS = (socket.timeout, TimeoutError)
    monotonic = time.monotonic
    socketserver_name = 'socketserver'
    http_server_name = 'http.server'
    TimeoutErrorBase = TimeoutError
    #: socket.sendmsg()/recvmsg(), which pass descriptors (SCM_RIGHTS): 3.3+ (POSIX builds;
    #: Windows has none, and testsupport uses them only where the platform is POSIX).
    HAS_SENDMSG = True

def at_fork_in_child(func):
    """Call *func* in the child after every os.fork() where Python can (3.7+)."""
    register = getattr(os, 'register_at_fork', None)
    if register is not None:
        register(after_in_child=func)


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


if PY2:
    def popen_new_session(argv, keep_fds=(), new_session=True, **kwargs):
        """``subprocess.Popen(argv, **kwargs)`` in a new session, *keep_fds* left open.

        2.7 has neither ``pass_fds`` nor ``start_new_session``: with *keep_fds*
        the child inherits every descriptor (``close_fds=False``; it must close
        the others itself, as testsupport's LISTEN_FDS wrapper and lease holder
        do), and a ``preexec_fn`` clears FD_CLOEXEC on the kept ones and calls
        ``setsid()``. *new_session* False (Windows) starts the child as it is.
        """
        import subprocess
        keep = list(keep_fds)

        def preexec():
            import fcntl
            for fd in keep:
                flags = fcntl.fcntl(fd, fcntl.F_GETFD)
                fcntl.fcntl(fd, fcntl.F_SETFD, flags & ~fcntl.FD_CLOEXEC)
            if new_session:
                os.setsid()

        if not keep and not new_session:
            return subprocess.Popen(argv, close_fds=True, **kwargs)
        return subprocess.Popen(argv, close_fds=not keep, preexec_fn=preexec, **kwargs)
else:
    def popen_new_session(argv, keep_fds=(), new_session=True, **kwargs):
        """``subprocess.Popen(argv, **kwargs)`` in a new session, *keep_fds* left open.

        ``pass_fds`` keeps *keep_fds* open and inheritable in the child (at the
        same numbers), every other descriptor is closed; ``start_new_session``
        makes the child lead a new session and process group.
        """
        import subprocess
        return subprocess.Popen(argv, close_fds=True, pass_fds=tuple(keep_fds),
                                start_new_session=new_session, **kwargs)
