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

#: Rename *src* over *dst* atomically (os.replace, 3.3+); 2.7's os.rename does that on POSIX.
replace_file = getattr(os, 'replace', None) or os.rename

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
