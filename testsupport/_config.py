"""The allocator's configuration: the ``TESTSUPPORT_PORT_*`` variables, read and checked.

Read at every call (see :mod:`testsupport.allocator` for what each means);
a bad value is a ValueError naming the variable, its value and what to write.
"""
from __future__ import absolute_import, division, print_function

import collections
import math

from . import _leases, _system

__all__ = [
    'BACKEND_ENV_VAR',
    'Config',
    'DEFAULT_LEASE_SECONDS',
    'LEASE_ENV_VAR',
    'MAX_LEASE_SECONDS',
    'RANGE_ENV_VAR',
    'REGISTRY_ENV_VAR',
    'SETTING_NAMES',
    'STRATEGY_ENV_VAR',
    'default_range',
    'parse_lease',
    'parse_range',
    'parse_strategy',
    'read_config',
    'settings',
    'strategy',
]

RANGE_ENV_VAR = 'TESTSUPPORT_PORT_RANGE'
REGISTRY_ENV_VAR = 'TESTSUPPORT_PORT_REGISTRY'
LEASE_ENV_VAR = 'TESTSUPPORT_PORT_LEASE'
STRATEGY_ENV_VAR = 'TESTSUPPORT_PORT_STRATEGY'
BACKEND_ENV_VAR = _leases.BACKEND_ENV_VAR

#: Seconds a port stays leased unless released first (``TESTSUPPORT_PORT_LEASE``).
DEFAULT_LEASE_SECONDS = 60.0
#: The longest lease time accepted: a day.
MAX_LEASE_SECONDS = 86400.0
#: Fewer candidate ports than this outside the ephemeral range: use kernel ports.
_MIN_RANGE_PORTS = 256
_STRATEGIES = ('registry', 'ephemeral')


Config = collections.namedtuple('Config', 'port_range directory private lease_seconds')


def strategy(environ):
    return parse_strategy(environ.get(STRATEGY_ENV_VAR))


def parse_strategy(raw):
    if raw is None:
        return 'registry'
    value = raw.strip().lower() or 'registry'
    if value not in _STRATEGIES:
        raise ValueError('%s is %r; use "registry" (the default: leased ports) or "ephemeral" '
                         '(CPython\'s behaviour: bind port 0, close, return)'
                         % (STRATEGY_ENV_VAR, raw))
    return value


#: The variables read at every call, in the order settings() returns them.
SETTING_NAMES = (STRATEGY_ENV_VAR, RANGE_ENV_VAR, REGISTRY_ENV_VAR, LEASE_ENV_VAR,
                 BACKEND_ENV_VAR)
# an os.environ's encodekey -> SETTING_NAMES as keys of its own dict
_encoded_names = {}  # type: dict[object, tuple[object, ...]]


def settings(environ):
    """The values of the TESTSUPPORT_PORT_* variables in *environ*, None where unset.

    They are read at every call, so this must be cheap: ``os.environ.get()`` of
    an unset variable raises and catches KeyError twice inside, and the five
    such reads cost about 2.5 us, more than the rest of find_unused_port()
    besides its bind check. So the dict behind ``os.environ`` (``_data`` on
    Python 3 and PyPy 3) is read directly, through the same ``encodekey`` and
    ``decodevalue`` that ``os.environ[name]`` uses; any other mapping (2.7's
    ``os.environ``, a plain dict) through ``get()``.
    """
    data = getattr(environ, '_data', None)
    if type(data) is dict:
        encodekey, decode = environ.encodekey, environ.decodevalue
        keys = _encoded_names.get(encodekey)
        if keys is None:
            keys = _encoded_names[encodekey] = tuple([encodekey(n) for n in SETTING_NAMES])
        return tuple([raw if raw is None else decode(raw) for raw in map(data.get, keys)])
    get = environ.get
    return tuple([get(name) for name in SETTING_NAMES])


def parse_range(value):
    """``'20000-29999'`` -> ``(20000, 29999)``; ``'kernel'`` -> None; else ValueError."""
    text = value.strip().lower()
    if text == 'kernel':
        return None
    low, sep, high = text.partition('-')
    try:
        low, high = int(low), int(high)
    except ValueError:
        low = high = None
    if not sep or low is None or not (1 <= low <= high <= 65535):
        raise ValueError('%s is %r; expected LOW-HIGH with 1 <= LOW <= HIGH <= 65535, e.g. '
                         '20000-29999, or "kernel" for kernel-assigned ports'
                         % (RANGE_ENV_VAR, value))
    return low, high


def default_range(ephemeral):
    """The largest range of ports >= 1024 outside *ephemeral*, or None if too small."""
    low, high = ephemeral
    below = (1024, min(low - 1, 65535))
    above = (max(high + 1, 1024), 65535)
    best = max([below, above], key=lambda r: r[1] - r[0])
    if best[1] - best[0] + 1 < _MIN_RANGE_PORTS:
        return None
    return best


def parse_lease(value, what=LEASE_ENV_VAR):
    """Seconds in (0, MAX_LEASE_SECONDS]; ValueError naming *what* otherwise."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = float('nan')
    if math.isnan(seconds) or not 0 < seconds <= MAX_LEASE_SECONDS:
        raise ValueError('%s is %r; expected a number of seconds greater than 0 and at most '
                         '%d (a day), e.g. 60' % (what, value, MAX_LEASE_SECONDS))
    return seconds


def read_config(environ, platform):
    """The allocator configuration the environment *environ* asks for."""
    value = environ.get(RANGE_ENV_VAR, '').strip()
    ephemeral = platform.ephemeral_port_range()
    port_range = parse_range(value) if value else default_range(ephemeral)
    if value and port_range is not None:
        low, high = port_range
        if low <= ephemeral[1] and ephemeral[0] <= high:
            _leases.warn_once(
                ('ephemeral overlap', port_range, ephemeral),
                '%s is %d-%d, which overlaps the OS ephemeral range %d-%d: the kernel may '
                'give those ports to outgoing connections and to bind(port 0) callers, which '
                'no lease keeps off; choose ports outside it'
                % (RANGE_ENV_VAR, low, high, ephemeral[0], ephemeral[1]), _leases.PortRegistryWarning)
    directory = environ.get(REGISTRY_ENV_VAR, '').strip()
    private = bool(directory)
    if not private:
        import tempfile
        directory = _system.default_registry_dir(
            platform, environ, tempfile.gettempdir(), _system.user_id())
    value = environ.get(LEASE_ENV_VAR, '').strip()
    lease = parse_lease(value) if value else DEFAULT_LEASE_SECONDS
    return Config(port_range, directory, private, lease)
