"""This process's allocators, and the paths to a lease that the public functions take.

One :class:`~testsupport._allocator.Allocator` per process and configuration,
created once under a lock (a forked child gets fresh ones), given back at exit
with a warning that lists forgotten ``reserve_port()`` leases. :func:`lease_port`
is the one path to a leased port (``reserve_port``, ``find_unused_port``, the
fixtures); :func:`release` ends one (``release_port``).
"""
from __future__ import absolute_import, division, print_function

import atexit
import os
import socket
import threading
import time
import warnings

from . import _allocator, _compat, _config, _leases, _sockets, _system, platform_shim

__all__ = [
    'current',
    'lease_port',
    'release',
]


# -- this process's allocator -------------------------------------------------

_state = {}  # type: dict[tuple[object, ...], _allocator.Allocator]
_state_lock = threading.Lock()


def current(environ=None, settings=None):
    """The allocator for this process and configuration (a fresh one after fork).

    Created once under a lock: threads making their first call at once share it.
    *settings* is ``_config.settings(environ)`` if the caller has it already.
    """
    environ = os.environ if environ is None else environ
    settings = _config.settings(environ) if settings is None else settings
    key = (os.getpid(),) + settings[1:]
    allocator = _state.get(key)
    if allocator is not None:
        return allocator
    with _state_lock:
        allocator = _state.get(key)
        if allocator is None:
            platform = platform_shim.current()
            config = _config.read_config(environ, platform)
            store = _leases.open_store(environ, platform, config.directory, config.private,
                                       time.time, key[0], _system.user_id(), None)
            allocator = _allocator.Allocator(config.port_range, config.lease_seconds, store, platform)
            if not _state:
                atexit.register(_release_at_exit)
                _compat.at_fork_in_child(_after_fork_in_child)
            _forget_parent()
            _state[key] = allocator
    return allocator


def _after_fork_in_child():
    """In a forked child: a fresh creation lock (a thread may have held it), no parent state."""
    global _state_lock
    _state_lock = threading.Lock()
    _forget_parent()


def _forget_parent():
    """Drop the allocators a forked child inherited (their names stay the parent's)."""
    pid = os.getpid()
    for key in [k for k in _state if k[0] != pid]:
        _state.pop(key).forget_after_fork()


def _release_at_exit(state=None):
    """At exit, list forgotten reserve_port() leases and give back this process's leases."""
    pid = os.getpid()
    forgotten = []
    for key, allocator in list((_state if state is None else state).items()):
        if key[0] != pid or allocator.pid != pid:
            continue  # inherited through fork: the parent's to release
        forgotten.extend(allocator.unreleased())
        allocator.close()
    if forgotten:
        warnings.warn('testsupport: %d port(s) reserved with reserve_port() were never '
                      'released: %s; call release_port() or use reserved_port()'
                      % (len(forgotten), ', '.join(str(p) for p in sorted(forgotten))),
                      _allocator.PortRegistryWarning)


# -- the paths to a lease (the public module and the CLI) ----------------------

def lease_port(family, socktype, host, caller, platform, reserved=False, never_fail=False,
               environ=None):
    """The one path to a leased port (``reserve_port``, ``find_unused_port``, fixtures).

    *caller* names the public function in messages; *never_fail* (find_unused_port)
    falls back instead of raising NoFreePortError.
    """
    environ = os.environ if environ is None else environ
    # The checks cost more than the rest of a lease: skip them for the plain
    # ints (or their enums) of the families and types with ports.
    if (type(family) not in _INT_TYPES or type(socktype) not in _INT_TYPES
            or (family, socktype) not in _PORT_KINDS):
        _sockets.check_port_family(caller, family, platform, socktype)
    if host is not None:
        _sockets.check_host(caller, host)
    settings = _config.settings(environ)
    if settings[0] is not None and _config.parse_strategy(settings[0]) == 'ephemeral':
        return _sockets.kernel_port(family, socktype, host, platform, caller)
    allocator = _state.get((os.getpid(),) + settings[1:])
    if allocator is None:
        allocator = current(environ, settings)
    return allocator.allocate(family, socktype, host, reserved, caller, never_fail)


#: Exact types taken as plain ints by lease_port()'s fast check (bool is not one).
_INT_TYPES = frozenset([int, type(socket.AF_INET), type(socket.SOCK_STREAM)]
                       + list(_compat.integer_types))
#: The (family, socktype) pairs with ports.
_PORT_KINDS = frozenset((family, socktype) for family in (socket.AF_INET, socket.AF_INET6)
                        for socktype in (socket.SOCK_STREAM, socket.SOCK_DGRAM))


def release(port):
    """``release_port()`` (its docstring in :mod:`testsupport.allocator` is the contract)."""
    if isinstance(port, bool) or not isinstance(port, _compat.integer_types):
        raise TypeError('release_port(): port must be an int that reserve_port() returned, '
                        'got %s %r' % (type(port).__name__, port))
    if _config.strategy(os.environ) == 'ephemeral':
        return
    pid = os.getpid()
    for key, allocator in list(_state.items()):
        if key[0] == pid and allocator.release(port):
            return
    raise ValueError('release_port(): port %r is not leased by this process (pid %d); pass a '
                     'port that reserve_port() returned' % (port, pid))
