"""The ``test.support`` names the socket helpers raise or rely on.

``TestFailed`` and ``ResourceDenied`` have CPython's meaning; resources are
enabled the way regrtest's ``-u`` option enables them, but from the environment
variable ``TESTSUPPORT_USE`` (or the pytest option ``--use``)::

    TESTSUPPORT_USE=network,urlfetch   # just these
    TESTSUPPORT_USE=all,-cpu           # everything but cpu

.. versionadded:: 0.1.0
"""
from __future__ import absolute_import, division, print_function

import os
import re
import unittest

from . import _compat

__all__ = [
    'Error',
    'INTERNET_TIMEOUT',
    'LONG_TIMEOUT',
    'LOOPBACK_TIMEOUT',
    'RESOURCE_NAMES',
    'ResourceDenied',
    'SHORT_TIMEOUT',
    'SOCK_MAX_SIZE',
    'TestFailed',
    'USE_ENV_VAR',
    'is_resource_enabled',
    'requires',
    'use_resources',
    'verbose',
]

#: Timeout for a connection on the loopback interface (CPython 3.9+'s value).
LOOPBACK_TIMEOUT = 10.0
#: Timeout for a request to a host on the internet.
INTERNET_TIMEOUT = 60.0
#: Timeout for an operation that should be quick but may be slow on a busy machine.
SHORT_TIMEOUT = 30.0
#: Timeout for a long operation, a last resort before the test hangs.
LONG_TIMEOUT = 5 * 60.0
#: More than the largest OS socket buffer (CPython's value), for filling a socket.
SOCK_MAX_SIZE = 16 * 1024 * 1024 + 1

#: The environment variable listing enabled resources.
USE_ENV_VAR = 'TESTSUPPORT_USE'

#: CPython's verbosity flag; testsupport does not print either way.
verbose = 1

#: ``None`` (the default): read :data:`USE_ENV_VAR` on every call. A list or set
#: assigned here wins over the environment, as regrtest assigns CPython's.
use_resources = None

#: The resource names CPython's regrtest accepts in ``-u`` (its RESOURCE_NAMES,
#: 2.7 to 3.15). The pytest plugin refuses other names in ``--use`` and
#: :data:`USE_ENV_VAR`; besides them, ``all``, ``none`` and ``-NAME`` work there.
#:
#: .. versionadded:: 0.1.0
RESOURCE_NAMES = ('audio', 'bsddb', 'console', 'cpu', 'curses', 'decimal', 'extralargefile',
                  'gui', 'largefile', 'network', 'subprocess', 'tzdata', 'urlfetch', 'walltime',
                  'wantobjects', 'xpickle')

# "all" means every resource, named here or not.
_ALL = 'all'
# A resource name as regrtest spells them (network, urlfetch, cpu, ...).
_NAME = re.compile(r'^[a-z0-9_]+$')


class Error(Exception):
    """Base class for testsupport's test failures (CPython's ``test.support.Error``)."""


class TestFailed(Error):
    """A test asked for something a correct test never does (e.g. SO_REUSEADDR on TCP)."""

    __test__ = False  # not a test class, though pytest collects names starting with "Test"


class ResourceDenied(unittest.SkipTest):
    """The test needs a resource that is not enabled or not available.

    A :class:`unittest.SkipTest`, so unittest and pytest report a skip.
    """


def _parse_use(value):
    """Parse ``"all,-cpu"`` into ``(everything, enabled, disabled)``; ValueError if malformed."""
    everything = False
    enabled, disabled = set(), set()
    for item in (value or '').replace(' ', ',').split(','):
        item = item.strip().lower()
        if not item:
            continue
        if not _NAME.match(item[1:] if item.startswith('-') else item):
            raise ValueError('%s is %r; %r is not a resource name: separate names with '
                             'commas, e.g. %s=network,urlfetch or %s=all,-cpu'
                             % (USE_ENV_VAR, value, item, USE_ENV_VAR, USE_ENV_VAR))
        if item == _ALL:
            everything = True
        elif item == 'none':
            everything = False
            enabled.clear()
        elif item.startswith('-'):
            disabled.add(item[1:])
            enabled.discard(item[1:])
        else:
            enabled.add(item)
            disabled.discard(item)
    return everything, enabled, disabled


def _check_resource(caller, resource):
    if not isinstance(resource, _compat.string_types):
        raise TypeError('%s(): resource must be a resource name (str) such as %r, got %s %r'
                        % (caller, 'network', type(resource).__name__, resource))
    if not resource.strip():
        raise ValueError('%s(): resource is %r; name one, such as %r'
                         % (caller, resource, 'network'))


def is_resource_enabled(resource):
    """Return True if *resource* (e.g. ``'network'``) is enabled for this run.

    Unlike CPython outside regrtest, where everything is enabled, nothing is
    enabled by default: tests that need the internet run only when asked for,
    with ``TESTSUPPORT_USE=network`` (or ``all``). TypeError unless *resource*
    is a str; ValueError if ``TESTSUPPORT_USE`` is malformed.
    """
    _check_resource('is_resource_enabled', resource)
    if use_resources is not None:
        return resource in use_resources or _ALL in use_resources
    everything, enabled, disabled = _parse_use(os.environ.get(USE_ENV_VAR))
    if resource in disabled:
        return False
    return everything or resource in enabled


def requires(resource, msg=None):
    """Raise :class:`ResourceDenied` unless *resource* is enabled.

    The default message names the resource and how to enable it. TypeError
    unless *resource* is a str.
    """
    _check_resource('requires', resource)
    if not is_resource_enabled(resource):
        if msg is None:
            msg = 'Use of the %r resource not enabled; ' % (resource,)
            current = os.environ.get(USE_ENV_VAR, '').strip()
            if use_resources is not None:
                msg += 'add it to testsupport.support.use_resources (now %r)' % (use_resources,)
            elif current:
                msg += ('add it to %s (now %r), e.g. %s=%s,%s, or pass --use=%s,%s to pytest'
                        % (USE_ENV_VAR, current, USE_ENV_VAR, current, resource,
                           current, resource))
            else:
                msg += ('set %s=%s (or pass --use=%s to pytest)'
                        % (USE_ENV_VAR, resource, resource))
            msg += ' to run this test'
        raise ResourceDenied(msg)
