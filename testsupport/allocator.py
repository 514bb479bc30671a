"""Port leases no other cooperating process is handed, with no daemon.

:func:`reserve_port` returns a port that is free to bind now and is *leased*:
no process using testsupport (this one, another test worker, another user's
suite, a script running ``testsupport port``) is handed it again until the
lease ends, that is until :func:`release_port`, until the lease time passes,
or until the owning process has gone.
:func:`~testsupport.socket_helper.find_unused_port` and everything built on it
take their ports from here too.

How: ports come from a candidate range outside the OS ephemeral range, so the
kernel never gives them to outgoing connections or to ``bind(port 0)``. A
process claims a *block* of 32 aligned ports at once in a lease store
(:mod:`testsupport._leases`: on Linux a kernel-held name per block, elsewhere a
file per block in a private per-user directory), then hands the block's ports
out from memory, each after checking that it can be bound for the requested
family and type. A block goes back to the store once none of its ports has
been leased for a second. Small ranges, kernel-assigned ports and the
``port`` command lease single ports instead.

The policy (which port, recycling, and what to do under pressure) lives in
``testsupport._allocator``; this module is its public face. :func:`find_unused_port` never fails where a bare ``bind(port 0)``
would work: when the range is used up (or this process may hold no more
descriptors) it reuses its own leases that are older than a second and bound
by nobody, then takes kernel-assigned ports, with one
:class:`PortRegistryWarning`. :func:`reserve_port` raises
:class:`NoFreePortError` when the range is truly full.

Configuration, read from the environment on every call:

``TESTSUPPORT_PORT_RANGE``
    candidate ports, e.g. ``20000-29999``; ``kernel`` for kernel-assigned
    ports (still leased). Default: the largest range of ports from 1024 up
    outside the ephemeral range (1024-32767 on Linux, 1024-49151 on macOS and
    Windows, 1024-9999 on FreeBSD); kernel-assigned ports if that has fewer
    than 256 ports.
``TESTSUPPORT_PORT_REGISTRY``
    a private registry: the directory of the file store, and for the kernel
    store a namespace of its own, so that a test run's leases stay apart
    from everyone else's. Default: the shared kernel namespace (Linux), or
    ``$XDG_RUNTIME_DIR/testsupport`` if private, else
    ``<tempdir>/testsupport-<uid>``, else (when that belongs to someone else)
    ``~/.cache/testsupport/ports-<host>``; on Windows ``%LOCALAPPDATA%\\testsupport``.
``TESTSUPPORT_PORT_BACKEND``
    ``kernel``, ``files`` or ``memory``; default: the platform's
    (``platform_shim.current().lease_store``).
``TESTSUPPORT_PORT_LEASE``
    the lease time in seconds (default 60, at most 86400).
``TESTSUPPORT_PORT_STRATEGY``
    ``registry`` (the default) or ``ephemeral``: CPython's behaviour exactly
    (``find_unused_port`` binds port 0, closes and returns; no leases).

.. versionadded:: 0.1.0
"""
from __future__ import absolute_import, division, print_function

import contextlib
import socket

from . import _allocator, _config, _ports, platform_shim

__all__ = [
    'BACKEND_ENV_VAR',
    'LEASE_ENV_VAR',
    'NoFreePortError',
    'PortRegistryWarning',
    'RANGE_ENV_VAR',
    'REGISTRY_ENV_VAR',
    'STRATEGY_ENV_VAR',
    'release_port',
    'reserve_port',
    'reserved_port',
]

# The names of the variables above, for tests that set them (``monkeypatch.setenv``).
RANGE_ENV_VAR = _config.RANGE_ENV_VAR
REGISTRY_ENV_VAR = _config.REGISTRY_ENV_VAR
LEASE_ENV_VAR = _config.LEASE_ENV_VAR
STRATEGY_ENV_VAR = _config.STRATEGY_ENV_VAR
BACKEND_ENV_VAR = _config.BACKEND_ENV_VAR

NoFreePortError = _allocator.NoFreePortError
#: Leases are weaker than usual here (a store fell back, or ports are reused).
PortRegistryWarning = _allocator.PortRegistryWarning


def reserve_port(family=socket.AF_INET, socktype=socket.SOCK_STREAM, host=None):
    """Return a port free for *family*/*socktype* on *host*, leased to this process.

    *host* defaults to ``HOST`` (``HOSTv6`` for AF_INET6). Until
    :func:`release_port`, the lease time (``TESTSUPPORT_PORT_LEASE``, default
    60 s) or the end of this process, no process using testsupport is handed
    the port; an expired lease that was never released is not handed out
    again by this process either. Processes that do not use testsupport are
    kept off it only by the choice of range (outside the ephemeral ports):
    bind it soon.

    Raises ValueError for a family or type without ports or a bad
    ``TESTSUPPORT_PORT_*`` variable, :class:`NoFreePortError` when the range is
    used up, and the socket error (explained) when no socket of that family can
    be bound on *host* (e.g. AF_INET6 where IPv6 is off); a failed check leases
    nothing. With ``TESTSUPPORT_PORT_STRATEGY=ephemeral`` the port is the
    kernel's and not leased.
    """
    return _ports.lease_port(family, socktype, host, 'reserve_port',
                             platform_shim.current(), reserved=True)


def release_port(port):
    """End the lease on *port* now, so the port can be handed out again.

    Releasing a port whose lease has already ended is fine, and never ends a
    lease this process took on the port since. The lease is found whatever the
    ``TESTSUPPORT_*`` variables say now. Raises TypeError for a non-int and
    ValueError for a port this process never leased. A no-op under
    ``TESTSUPPORT_PORT_STRATEGY=ephemeral``.
    """
    _ports.release(port)


@contextlib.contextmanager
def reserved_port(family=socket.AF_INET, socktype=socket.SOCK_STREAM, host=None):
    """Context manager: :func:`reserve_port` on entry, :func:`release_port` on exit."""
    port = _ports.lease_port(family, socktype, host, 'reserved_port',
                             platform_shim.current(), reserved=True)
    try:
        yield port
    finally:
        release_port(port)
