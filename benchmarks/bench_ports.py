"""Free-port helpers side by side: latency, collisions under load, lease scaling, the CLI.

Run (Python 3.8+, Linux or macOS; loopback only, stops by itself in a few minutes)::

    python -m pip install -r benchmarks/requirements.txt && python benchmarks/bench_ports.py

``--quick`` runs a tenth of the rounds. Prints one report (reStructuredText
tables) for docs/explanation/benchmarks.rst; every testsupport figure is also
given as a ratio to a figure of the same run. What it measures:

1. Latency: median time of one call, per method, in interleaved rounds so that
   every method sees the same machine; and its ratio to a bare
   ``bind(port 0)`` + ``close()``. testsupport's ``find_unused_port`` runs in
   its default configuration (60-second leases, the platform's lease store:
   kernel names on Linux), and again with the file store
   (``TESTSUPPORT_PORT_BACKEND=files``).
2. Collisions: P processes x K rounds of allocate -> short wait -> bind (no
   SO_REUSEADDR; with it for ephemeral-port-reserve, which needs it) -> hold ->
   close, while one process churns loopback connections (outgoing connections
   take ephemeral ports) and another binds port 0 in a loop (a non-cooperating
   test suite). A bind that fails with EADDRINUSE is a collision.
   testsupport runs 8 x 12,500 = 100,000 ``find_unused_port()`` calls with the
   default 60-second lease, more than the default range holds: each worker
   counts the ports it was handed again (its own leases recycled) and those
   outside the range (kernel-assigned ports, the last fallback).
3. testsupport's latency with 0, 1,000 and 10,000 ports leased by another live
   process (each level in a lease namespace of its own, rounds interleaved).
4. ``python -m testsupport port -n 1000``: wall time of the whole command
   (interpreter start, leases, the detached holder), median of 5, and of the
   ``release`` command that ends those leases.
5. Exhaustion: how long ``reserve_port()`` takes to raise ``NoFreePortError``
   on a range another live process leases entirely, and what
   ``find_unused_port()`` does there instead (it must not raise).

testsupport always runs on private registries (``TESTSUPPORT_PORT_REGISTRY``:
a kernel namespace of the benchmark's own on Linux, directories under a
temporary directory removed at the end), so the benchmark neither takes ports
from nor is kept off ports by other users of the machine. The benchmark only
imports CPython's ``test.support`` to compare with it.
"""
from __future__ import absolute_import, division, print_function

import argparse
import errno
import multiprocessing
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from testsupport import _allocator, _detached, allocator, socket_helper  # noqa: E402

HOST = '127.0.0.1'
clock = time.perf_counter
TS = 'testsupport'
TS_FILES = 'testsupport, file store'
#: The loop shapes of issue #16: consecutive calls without release (TS,
#: TS_RESERVE), and each call followed by release_port() (untimed).
TS_INTERLEAVED = 'testsupport, interleaved with release'
TS_RESERVE = 'testsupport reserve_port'
TS_RESERVE_INTERLEAVED = 'testsupport reserve_port, interleaved with release'
SHAPES = (TS, TS_INTERLEAVED, TS_RESERVE, TS_RESERVE_INTERLEAVED)


# -- settings ------------------------------------------------------------------

class Settings(object):
    """The TESTSUPPORT_* variables of one testsupport configuration, applied on demand."""

    NAMES = (allocator.RANGE_ENV_VAR, allocator.REGISTRY_ENV_VAR, allocator.LEASE_ENV_VAR,
             allocator.STRATEGY_ENV_VAR, allocator.BACKEND_ENV_VAR)

    def __init__(self, **values):
        self.values = dict((getattr(allocator, key.upper() + '_ENV_VAR'), value)
                           for key, value in values.items())

    def apply(self):
        for name in self.NAMES:
            if name in self.values:
                os.environ[name] = self.values[name]
            else:
                os.environ.pop(name, None)


NO_SETTINGS = Settings()


def candidate_range():
    """The allocator's candidate range in the current environment, as (low, high)."""
    value = dict(_detached.describe())['port_range']
    return None if value == 'kernel' else tuple(value)


# -- the methods -------------------------------------------------------------

def bare_bind0():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]
    finally:
        sock.close()


def _returning(portpicker):
    """portpicker never hands out a port twice until it is returned: return it (untimed)."""
    pending = []

    def pick():
        if pending:
            portpicker.return_port(pending.pop())
        port = portpicker.pick_unused_port()
        pending.append(port)
        return port
    return pick


class Method(object):
    """One way to get a free port: *function*, its call budget, what its server needs.

    *after* (untimed) is called with each port the latency phase gets: the
    interleaved loop shape releases it there.
    """

    def __init__(self, name, function, calls, reuseaddr=False, settings=NO_SETTINGS,
                 after=None, latency_only=False):
        self.name, self.function, self.calls = name, function, calls
        self.reuseaddr, self.settings = reuseaddr, settings
        self.after, self.latency_only = after, latency_only


def load_methods(base, calls):
    """Every method importable here; *calls* is the budget of a fast method."""
    ts = Settings(registry=os.path.join(base, 'latency-kernel'))
    ts_files = Settings(registry=os.path.join(base, 'latency-files'), backend='files')
    # A namespace of its own: two consecutive loops of 20,000 unreleased leases
    # would not fit in one default range (31,744 ports on Linux).
    ts_reserve = Settings(registry=os.path.join(base, 'latency-reserve'))
    slow, slowest = max(calls // 10, 10), max(calls // 60, 10)
    release = allocator.release_port
    methods = [Method('bare bind(0)', bare_bind0, calls),
               Method(TS, socket_helper.find_unused_port, calls, settings=ts),
               Method(TS_INTERLEAVED, socket_helper.find_unused_port, calls, settings=ts,
                      after=release, latency_only=True),
               Method(TS_RESERVE, allocator.reserve_port, calls, settings=ts_reserve,
                      latency_only=True),
               Method(TS_RESERVE_INTERLEAVED, allocator.reserve_port, calls, settings=ts_reserve,
                      after=release, latency_only=True),
               Method(TS_FILES, socket_helper.find_unused_port, calls, settings=ts_files)]
    try:
        from test.support import socket_helper as cpython
        methods.append(Method('CPython find_unused_port', cpython.find_unused_port, calls))
    except ImportError:
        try:
            from test import support as cpython  # 3.6-3.8
            methods.append(Method('CPython find_unused_port', cpython.find_unused_port, calls))
        except (ImportError, AttributeError):
            pass
    try:
        import portpicker
        methods.append(Method('portpicker', _returning(portpicker), slow))
    except ImportError:
        pass
    try:
        import ephemeral_port_reserve
        methods.append(Method('ephemeral-port-reserve', ephemeral_port_reserve.reserve, slow,
                              reuseaddr=True))
    except ImportError:
        pass
    try:
        import port_for
        methods.append(Method('port-for', port_for.select_random, slowest))
    except ImportError:
        pass
    try:
        import portend
        methods.append(Method('portend', portend.find_available_local_port, calls))
    except ImportError:
        pass
    return methods


# -- 1. latency --------------------------------------------------------------

def latency(methods, rounds=200):
    """Median and mean seconds per call, per method name: ``{name: (median, mean)}``.

    Each method makes calls/rounds calls per round, all methods in turn, so
    every method's calls are spread over the whole phase. The mean shows what
    the median hides: work done once every few calls (a block claim every 32
    calls of a consecutive loop). The testsupport ports still leased are
    released afterwards (untimed), so later phases start clean.
    """
    times = dict((m.name, []) for m in methods)
    ports = dict((m.name, []) for m in methods)
    for done in range(rounds):
        for method in methods:
            todo = method.calls * (done + 1) // rounds - method.calls * done // rounds
            method.settings.apply()
            record, function, got = times[method.name], method.function, ports[method.name]
            after = method.after
            for _ in range(todo):
                start = clock()
                port = function()
                record.append(clock() - start)
                if after is None:
                    got.append(port)
                else:
                    after(port)
    for method in methods:
        if method.settings is not NO_SETTINGS:
            method.settings.apply()
            for port in ports[method.name]:
                allocator.release_port(port)
    NO_SETTINGS.apply()
    return dict((name, (median(values), sum(values) / len(values)))
                for name, values in times.items())


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


# -- 2. collisions -----------------------------------------------------------

def connection_churner(stop, deadline):
    """Open and close loopback connections until *stop* (outgoing: ephemeral ports)."""
    server = socket.socket()
    server.bind((HOST, 0))
    server.listen(128)
    address = server.getsockname()

    def accept():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                conn.close()
            except OSError:
                return
    thread = threading.Thread(target=accept)
    thread.daemon = True
    thread.start()
    while not stop.is_set() and time.time() < deadline:
        client = socket.socket()
        try:
            client.connect(address)
        except OSError:
            pass
        client.close()
    server.close()


def bind0_churner(stop, deadline):
    """Bind port 0, listen, close, in a loop: a test suite that does not cooperate."""
    while not stop.is_set() and time.time() < deadline:
        sock = socket.socket()
        try:
            sock.bind((HOST, 0))
            sock.listen(1)
        except OSError:
            pass
        sock.close()


def worker(method, rounds, wait, hold, start, results):
    """*rounds* of allocate, wait, bind, hold, close; put the counts on *results*."""
    method.settings.apply()
    port_range = candidate_range() if method.settings is not NO_SETTINGS else None
    seen = set()
    again = outside = 0
    catcher = warnings.catch_warnings(record=True)
    caught = catcher.__enter__()
    warnings.simplefilter('always', allocator.PortRegistryWarning)
    start.wait()
    collisions = errors = 0
    first_error = ''
    for _ in range(rounds):
        try:
            port = method.function()
        except Exception as exc:  # a method giving up counts, with its message
            errors += 1
            first_error = first_error or repr(exc)
            continue
        if port in seen:
            again += 1
        seen.add(port)
        if port_range is not None and not port_range[0] <= port <= port_range[1]:
            outside += 1
        time.sleep(wait)
        sock = socket.socket()
        try:
            if method.reuseaddr:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((HOST, port))
            sock.listen(1)
            time.sleep(hold)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                collisions += 1
            else:
                errors += 1
                first_error = first_error or repr(exc)
        finally:
            sock.close()
    catcher.__exit__(None, None, None)
    results.put((collisions, errors, first_error, again, outside, len(caught)))


def collisions(method, processes, rounds, wait, hold):
    """Run *processes* workers of *method* beside the two churners; sum their counts."""
    ctx = multiprocessing.get_context('fork')
    stop = ctx.Event()
    start = ctx.Event()
    results = ctx.Queue()
    deadline = time.time() + 600
    churners = [ctx.Process(target=connection_churner, args=(stop, deadline)),
                ctx.Process(target=bind0_churner, args=(stop, deadline))]
    workers = [ctx.Process(target=worker, args=(method, rounds, wait, hold, start, results))
               for _ in range(processes)]
    for process in churners + workers:
        process.start()
    began = time.time()
    start.set()
    outcome = [results.get(timeout=900) for _ in workers]
    elapsed = time.time() - began
    stop.set()
    for process in workers + churners:
        process.join(30)
    totals = [sum(row[i] for row in outcome) for i in (0, 1, 3, 4)]
    warned = sum(1 for row in outcome if row[5])
    first_error = next((row[2] for row in outcome if row[2]), '')
    return dict(total=processes * rounds, collisions=totals[0], errors=totals[1],
                again=totals[2], outside=totals[3], warned=warned, elapsed=elapsed,
                first_error=first_error)


# -- 3. leases held by another process -------------------------------------------

def holder(count, settings, stop, reply):
    """Lease *count* ports with reserve_port() (fewer if the range ends), report, hold."""
    settings.apply()
    held = []
    try:
        while len(held) < count:
            held.append(allocator.reserve_port())
    except allocator.NoFreePortError:
        pass
    reply.put(held)
    stop.wait(600)
    for port in held:
        allocator.release_port(port)


def start_holder(count, settings):
    """A live process leasing *count* ports under *settings*: (process, stop, its ports)."""
    ctx = multiprocessing.get_context('fork')
    stop, reply = ctx.Event(), ctx.Queue()
    process = ctx.Process(target=holder, args=(count, settings, stop, reply))
    process.start()
    return process, stop, reply.get(timeout=300)


def lease_scaling(base, calls, levels, rounds=100):
    """[(live leases, blocks they take, median seconds)] with rounds interleaved."""
    configs = [Settings(registry=os.path.join(base, 'scaling-%d' % live)) for live in levels]
    holders = [start_holder(live, config) if live else None
               for live, config in zip(levels, configs)]
    times = [[] for _ in levels]
    ports = [[] for _ in levels]
    function = socket_helper.find_unused_port
    try:
        for done in range(rounds):
            todo = calls * (done + 1) // rounds - calls * done // rounds
            for config, record, got in zip(configs, times, ports):
                config.apply()
                for _ in range(todo):
                    start = clock()
                    got.append(function())
                    record.append(clock() - start)
        for config, got in zip(configs, ports):
            config.apply()
            for port in got:
                allocator.release_port(port)
    finally:
        NO_SETTINGS.apply()
        for entry in holders:
            if entry is not None:
                entry[1].set()
                entry[0].join(60)
    rows = []
    for live, entry, record in zip(levels, holders, times):
        held = entry[2] if entry else []
        blocks = len(set(port // _allocator.BLOCK_SIZE for port in held))
        rows.append((len(held), blocks, median(record)))
    return rows


# -- 4. the port command -------------------------------------------------------

def cli_runs(base, count, runs):
    """Median wall seconds of ``port -n COUNT`` and of ``release`` of its ports."""
    env = dict(os.environ, PYTHONPATH=ROOT, PYTHONDONTWRITEBYTECODE='1')
    env[allocator.REGISTRY_ENV_VAR] = os.path.join(base, 'cli')
    command = [sys.executable, '-m', 'testsupport']
    port_times, release_times = [], []
    for _ in range(runs):
        start = time.time()
        output = subprocess.check_output(command + ['port', '-n', str(count)], env=env)
        port_times.append(time.time() - start)
        ports = output.split()
        if len(set(ports)) != count:
            raise AssertionError('port -n %d printed %d distinct ports' % (count, len(set(ports))))
        start = time.time()
        subprocess.check_call(command + ['release'] + [p.decode() for p in ports], env=env)
        release_times.append(time.time() - start)
    start = time.time()
    subprocess.check_call([sys.executable, '-c', 'pass'], env=env)
    startup = time.time() - start
    return median(port_times), median(release_times), startup


# -- 5. exhaustion ---------------------------------------------------------------

def exhaustion(base, size, tag):
    """reserve_port() and find_unused_port() on a range another process leases entirely."""
    low = (20000 // _allocator.BLOCK_SIZE) * _allocator.BLOCK_SIZE
    if size >= 4 * _allocator.BLOCK_SIZE:
        low = (12000 // _allocator.BLOCK_SIZE) * _allocator.BLOCK_SIZE
    port_range = (low, low + size - 1)
    config = Settings(registry=os.path.join(base, 'exhaustion-' + tag),
                      range='%d-%d' % port_range)
    process, stop, held = start_holder(size, config)
    config.apply()
    unit = dict(_detached.describe())['port_unit']
    try:
        start = clock()
        try:
            allocator.reserve_port()
            message = 'no error: a port was free'
        except allocator.NoFreePortError as exc:
            message = str(exc)
        raised_after = clock() - start
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            start = clock()
            try:
                port = socket_helper.find_unused_port()
                fallback = 'returned %d (%s the range)' % (
                    port, 'in' if low <= port <= port_range[1] else 'outside')
                sock = socket.socket()
                sock.bind((HOST, port))
                sock.close()
                allocator.release_port(port)
            except Exception as exc:  # the figure to report
                fallback = 'RAISED %r' % (exc,)
            fallback_after = clock() - start
        warned = [str(w.message) for w in caught
                  if issubclass(w.category, allocator.PortRegistryWarning)]
    finally:
        NO_SETTINGS.apply()
        stop.set()
        process.join(60)
    return dict(range=port_range, unit=unit, held=len(held), raised_after=raised_after,
                message=message, fallback=fallback, fallback_after=fallback_after,
                warned=warned)


# -- the report ----------------------------------------------------------------

def table(headers, rows):
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows)]
    rule = '  '.join('=' * w for w in widths)
    lines = [rule, '  '.join(str(h).ljust(w) for h, w in zip(headers, widths)).rstrip(), rule]
    lines += ['  '.join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    lines.append(rule)
    return '\n'.join(lines)


def us(seconds):
    return '%.1f us' % (seconds * 1e6)


def verdict(ok):
    return 'met' if ok else 'MISSED'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true', help='a tenth of the rounds')
    parser.add_argument('--processes', type=int, default=8)
    parser.add_argument('--latency-only', action='store_true',
                        help='only the latency table (1) and its targets: for repeated runs')
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    base = tempfile.mkdtemp(prefix='tsu-bench-')
    NO_SETTINGS.apply()
    began = time.time()
    try:
        out = []
        ephemeral = socket_helper.platform_shim.current().ephemeral_port_range()
        out.append('Port allocation benchmark: %s, Python %s, %d CPUs, ephemeral ports %d-%d'
                   % (platform.platform(), platform.python_version(), os.cpu_count(),
                      ephemeral[0], ephemeral[1]))
        Settings(registry=os.path.join(base, 'latency-kernel')).apply()
        settings = dict(_detached.describe())
        NO_SETTINGS.apply()
        out.append('testsupport: lease store %s, range %s, %s leases of %g s'
                   % (settings['port_store'], '%d-%d' % tuple(settings['port_range']),
                      settings['port_unit'], settings['port_lease_seconds']))
        out.append('')
        targets = []

        # 1. latency
        methods = load_methods(base, 20000 // scale)
        lat = latency(methods)
        bare, bare_mean = lat['bare bind(0)']
        rows = [(m.name, '{:,}'.format(m.calls), us(lat[m.name][0]),
                 '%.2fx' % (lat[m.name][0] / bare), us(lat[m.name][1]),
                 '%.2fx' % (lat[m.name][1] / bare_mean))
                for m in methods]
        out.append('1. Latency of one call (rounds interleaved; mean = loop time / calls)')
        out.append('')
        out.append(table(['method', 'calls', 'median', 'vs bind(0)', 'mean', 'vs bind(0)'],
                         rows))
        out.append('')
        for name in SHAPES:
            ratio = lat[name][0] / bare
            targets.append(('%s: median vs bare bind(0)' % name, '<= 1.20x',
                            '%.2fx' % ratio, verdict(ratio <= 1.2)))
            targets.append(('  the same, mean', '(none)',
                            '%.2fx' % (lat[name][1] / bare_mean), ''))
        targets.append(('%s: median vs bare bind(0)' % TS_FILES, '(none)',
                        '%.2fx' % (lat[TS_FILES][0] / bare), ''))

        if args.latency_only:
            out.append('Targets (issues #8 and #16; load average at the end: %s)'
                       % ' '.join('%.2f' % x for x in os.getloadavg()))
            out.append('')
            out.append(table(['figure', 'target', 'this run', ''], targets))
            print('\n'.join(out))
            return 0

        # 2. collisions
        procs = args.processes
        wait, hold = 0.0005, 0.001
        crows = []
        ts_outcome = None
        for method in methods:
            if method.name == TS_FILES or method.latency_only:
                continue
            if method.name == TS:
                rounds = 12500 // scale
                method.settings = Settings(registry=os.path.join(base, 'collisions'))
            elif method.name == 'port-for':
                rounds = 250 // scale
            else:
                rounds = 2000 // scale
            outcome = collisions(method, procs, rounds, wait, hold)
            NO_SETTINGS.apply()
            if method.name == TS:
                ts_outcome = outcome
            crows.append((method.name, '{:,}'.format(outcome['total']), outcome['collisions'],
                          outcome['errors'], '%.1f s' % outcome['elapsed'],
                          outcome['first_error'][:60]))
        out.append('2. Collisions: %d processes x K rounds of allocate, wait %.1f ms, bind, '
                   'hold %.1f ms, close; with loopback connection churn and a bind(0) churner'
                   % (procs, wait * 1e3, hold * 1e3))
        out.append('')
        headers = ['method', 'allocations', 'collisions', 'errors', 'time', 'first error']
        if not any(row[-1] for row in crows):
            headers.pop()
            crows = [row[:-1] for row in crows]
        out.append(table(headers, crows))
        out.append('')
        total = ts_outcome['total']
        fresh = total - ts_outcome['again'] - ts_outcome['outside']
        out.append('testsupport\'s %s allocations (60 s leases, never released, as '
                   'find_unused_port callers do): %s ports from the range new to their '
                   'worker, %s of its own ports handed out again (recycled leases older '
                   'than a second), %s '
                   'kernel-assigned ports outside the range (fallback); %d of %d workers '
                   'warned about the fallback.'
                   % ('{:,}'.format(total), '{:,}'.format(fresh),
                      '{:,}'.format(ts_outcome['again']), '{:,}'.format(ts_outcome['outside']),
                      ts_outcome['warned'], procs))
        out.append('')
        out.append('Every method\'s port is bound on 127.0.0.1. portend checks the first address '
                   'getaddrinfo(None, 0) gives (::1 here), so its port is free on ::1 but often '
                   'held on 127.0.0.1 by another worker.')
        out.append('')
        targets.append(('%s allocations: collisions, errors' % '{:,}'.format(total), '0, 0',
                        '%d, %d' % (ts_outcome['collisions'], ts_outcome['errors']),
                        verdict(ts_outcome['collisions'] == 0 and ts_outcome['errors'] == 0)))

        # 3. leases held by another process
        calls = 20000 // scale
        srows = lease_scaling(base, calls, (0, 1000, 10000))
        none = srows[0][2]
        out.append('3. find_unused_port (%s calls per level, rounds interleaved) while another '
                   'live process leases ports with reserve_port()' % '{:,}'.format(calls))
        out.append('')
        out.append(table(['live leases', 'their blocks', 'median', 'vs none'],
                         [('{:,}'.format(live), blocks, us(m), '%.2fx' % (m / none))
                          for live, blocks, m in srows]))
        out.append('')
        ratio = srows[-1][2] / none
        targets.append(('median with %s live leases vs none' % '{:,}'.format(srows[-1][0]),
                        '<= 1.20x', '%.2fx' % ratio, verdict(ratio <= 1.2)))

        # 4. the port command
        count, runs = 1000, 5
        port_time, release_time, startup = cli_runs(base, count, runs)
        out.append('4. python -m testsupport port -n %d: %.3f s (median of %d runs, wall time '
                   'of the whole command); release of those %d ports: %.3f s; python -c pass: '
                   '%.3f s' % (count, port_time, runs, count, release_time, startup))
        out.append('')
        targets.append(('port -n %d wall time' % count, '<= 0.50 s', '%.3f s' % port_time,
                        verdict(port_time <= 0.5)))

        # 5. exhaustion
        out.append('5. Exhaustion: a range entirely leased by another live process')
        out.append('')
        for size, tag in ((64, 'small'), (1024, 'blocks')):
            ex = exhaustion(base, size, tag)
            out.append('- %d-%d (%d ports, leased by %s; %s held by the other process): '
                       'reserve_port() raised NoFreePortError after %.2f ms; find_unused_port() '
                       '%s after %.2f ms, with %d PortRegistryWarning.'
                       % (ex['range'][0], ex['range'][1], size, ex['unit'],
                          '{:,}'.format(ex['held']), ex['raised_after'] * 1e3, ex['fallback'],
                          ex['fallback_after'] * 1e3, len(ex['warned'])))
            out.append('')
            out.append('  reserve_port(): ' + ex['message'])
            for message in ex['warned'][:1]:
                out.append('')
                out.append('  find_unused_port() warned: ' + message)
            out.append('')
            targets.append(('find_unused_port() on a full %d-port range' % size,
                            'no error', ex['fallback'].split(' (')[0],
                            verdict(not ex['fallback'].startswith('RAISED'))))

        out.append('Targets (issues #8 and #16; load average at the end: %s)'
                   % ' '.join('%.2f' % x for x in os.getloadavg()))
        out.append('')
        out.append(table(['figure', 'target', 'this run', ''], targets))
        out.append('')
        out.append('Whole run: %.0f s.' % (time.time() - began))
        print('\n'.join(out))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
