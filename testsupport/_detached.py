"""What the CLI asks of the allocator: leases that outlive the process, and its settings.

The ``port`` command takes ports whose leases outlive it
(:func:`lease_detached_ports`, through :class:`DetachedLeases`; the
:mod:`testsupport._holder` keeps them), the ``release`` command ends them
(:func:`release_detached_ports`), and ``info`` shows the settings in force
(:func:`describe`).
"""
from __future__ import absolute_import, division, print_function

import os
import time

from . import _allocator, _config, _holder, _ports, _sockets, _system, platform_shim

__all__ = [
    'DetachedLeases',
    'describe',
    'lease_detached_ports',
    'release_detached_ports',
]


def describe(environ=None):
    """The allocator settings in force, as ``[(key, value)]`` for ``info``.

    A bad ``TESTSUPPORT_PORT_*`` variable is reported as the ValueError's text,
    and so is a warning about the settings when warnings are errors (``-W error``).
    """
    environ = os.environ if environ is None else environ
    try:
        strategy = _config.strategy(environ)
        allocator = _ports.current(environ)
    except (ValueError, Warning) as exc:
        return [('port_config_error', str(exc))]
    port_range = allocator.port_range
    return [('port_strategy', strategy),
            ('port_range', 'kernel' if port_range is None else list(port_range)),
            ('port_store', allocator.store.describe()),
            # The kernel store's names are exclusive across the network namespace.
            ('port_scope', allocator.store.scope),
            ('port_unit', allocator.unit),
            ('port_lease_seconds', allocator.lease_seconds)]


# -- detached leases (the port command) -------------------------------------------

class DetachedLeases(object):
    """Single-port leases of *allocator*'s range and store meant to outlive this process.

    The CLI's ``port`` command takes them (:func:`lease_detached_ports`); they
    are not this allocator's leases: it only lends its range, store and checks.
    """

    def __init__(self, allocator):
        self.allocator = allocator

    def take(self, count, family, socktype, lease_seconds, caller):
        """*count* single-port leases meant to outlive this process; ``[(port, handle)]``.

        All or nothing: on any failure every name taken is given back and the
        error propagates.
        """
        a = self.allocator
        with a.mutex:
            host = _sockets.loopback(family, None)
            expiry = a.clock() + lease_seconds
            taken = []
            try:
                candidates = (a.range_candidates() if a.port_range is not None
                              else None)
                while len(taken) < count:
                    port = self._next_detached(candidates, family, socktype, host, caller,
                                               expiry, taken)
                    if port is None:
                        raise self._detached_exhausted(caller, len(taken), count)
            except BaseException:
                for _port, handle in taken:
                    a.store.release(handle)
                raise
            return taken

    def _detached_exhausted(self, caller, taken, count):
        """The error when no more detached ports could be had: the range, or descriptors.

        Each port is held by a descriptor until the command ends, and a name
        check that fails for want of one looks like a taken name: near the
        descriptor limit, say that instead of blaming the range.
        """
        a = self.allocator
        limit = _system.fd_soft_limit()
        if limit is None or taken + 64 < limit:
            return a.exhausted(caller)
        return _allocator.NoFreePortError(
            a.platform.errnos['EADDRINUSE'],
            '%s: only %d of %d ports could be leased: each is held by a file descriptor '
            'until the command ends, and this process may open %d (ulimit -n); ask for '
            'fewer, or raise the limit' % (caller, taken, count, limit))

    def _next_detached(self, candidates, family, socktype, host, caller, expiry, taken):
        a = self.allocator
        attempts = 0
        while True:
            attempts += 1
            if candidates is not None:
                if not candidates:
                    return None
                port = candidates.pop()
            else:
                if len(taken) >= a.max_units:
                    return None
                port = _sockets.kernel_port(family, socktype, host, a.platform, caller)
            if a.is_leased(port):
                continue
            handle = a.acquire_single(port, expiry, detached=True)
            if handle is None:
                if candidates is None and attempts >= _allocator.KERNEL_TRIES:
                    return None
                continue
            if _sockets.bind_error(family, socktype, host, port, a.platform,
                                   caller) is not None:
                a.store.release(handle)
                continue
            taken.append((port, handle))
            return port


def lease_detached_ports(count, family, socktype, lease_seconds=None, environ=None):
    """*count* ports leased beyond this process (the ``port`` command): ``(ports, keeper)``.

    Nothing is held beyond this process until ``keeper.hold()`` is called, so
    a caller that fails to hand the ports on calls ``keeper.give_back()``.
    ValueError when *count* exceeds the candidate range, NoFreePortError when
    fewer are free.
    """
    environ = os.environ if environ is None else environ
    platform = platform_shim.current()
    _sockets.check_port_family('port', family, platform, socktype)
    if _config.strategy(environ) == 'ephemeral':
        ports = [_sockets.kernel_port(family, socktype, None, platform, 'port')
                 for _ in range(count)]
        return ports, _holder.Keeper(None, [], 0.0)
    allocator = _ports.current(environ)
    seconds = allocator.lease_seconds if lease_seconds is None else lease_seconds
    if allocator.port_range is not None:
        low, high = allocator.port_range
        if count > high - low + 1:
            raise ValueError('port: -n %d is more ports than the range %d-%d holds (%d); ask '
                             'for fewer, or widen %s' % (count, low, high, high - low + 1,
                                                         _config.RANGE_ENV_VAR))
    taken = DetachedLeases(allocator).take(count, family, socktype, seconds, 'port')
    return [port for port, _h in taken], _holder.Keeper(
        allocator.store, [h for _p, h in taken], time.time() + seconds)


def release_detached_ports(ports, environ=None):
    """End detached leases of *ports* (the ``release`` command); what went wrong, as text.

    One line per problem (none when every lease was ended): the ports no
    holder of this user had (``these ports were not leased by "port" for this
    user (released already, run out, or never leased): 20001 20002``), and for each holder that has ports but did not answer, its
    pid and what to do. Under ``TESTSUPPORT_PORT_STRATEGY=ephemeral`` nothing
    was leased: a no-op, as :func:`release_port`.
    """
    environ = os.environ if environ is None else environ
    if _config.strategy(environ) == 'ephemeral':
        return []
    store = _ports.current(environ).store
    left, silent = [], {}  # silent: holder pid -> (error, [ports])
    for port in ports:
        try:
            if not store.release_detached('p%d' % port):
                left.append(port)
        except _holder.HolderNotAnsweringError as exc:
            silent.setdefault(exc.pid, (exc, []))[1].append(port)
    problems = []
    if left:
        problems.append('%s not leased by "port" for this user (released already, run out, '
                        'or never leased): %s'
                        % ('this port was' if len(left) == 1 else 'these ports were',
                           ' '.join(str(p) for p in left)))
    for error, held in silent.values():
        problems.append(_not_answering(error, held))
    return problems


def _not_answering(exc, ports):
    """What ``release`` says of *ports*, whose holder did not answer (*exc*)."""
    which = '%s %s %s leased, but %s holder process' % (
        'port' if len(ports) == 1 else 'ports', ' '.join(str(p) for p in ports),
        'is' if len(ports) == 1 else 'are', 'its' if len(ports) == 1 else 'their')
    if exc.pid is None:
        return ('%s did not answer within %.1f s and could not be found; run release again '
                'later, or wait for the leases to end (TESTSUPPORT_PORT_LEASE or --lease '
                'seconds after "port")' % (which, exc.seconds))
    text = '%s (pid %d) did not answer within %.1f s' % (which, exc.pid, exc.seconds)
    if exc.stopped:  # SIGTERM waits until it is continued
        text += (': it is stopped; "kill -CONT %d" lets it answer, "kill -KILL %d" ends it '
                 'and every lease it holds' % (exc.pid, exc.pid))
    else:
        text += '; "kill %d" ends it and every lease it holds' % exc.pid
    if exc.until is not None:
        text += ', or wait: they end by themselves at %s (in %d s)' % (
            time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(exc.until)),
            max(0, round(exc.until - time.time())))
    return text
