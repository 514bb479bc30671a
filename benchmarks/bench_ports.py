"""Free-port helpers side by side: latency, collisions under load, and lease scaling.

Run (Python 3.8+, Linux or macOS; loopback only, stops by itself in a few minutes)::

    python -m pip install -r benchmarks/requirements.txt && python benchmarks/bench_ports.py

``--quick`` runs a tenth of the rounds. Prints one table (reStructuredText)
for the README. What it measures:

1. Latency: median time of one call, per method, interleaved in batches so
   that every method sees the same machine; and its ratio to a bare
   ``bind(port 0)`` + ``close()``.
2. Collisions: P processes x K rounds of allocate -> short wait -> bind (no
   SO_REUSEADDR; with it for ephemeral-port-reserve, which needs it) -> hold ->
   close, while one process churns loopback connections (outgoing connections
   take ephemeral ports) and another binds port 0 in a loop (a non-cooperating
   test suite). A bind that fails with EADDRINUSE is a collision.
3. testsupport's latency with 0, 1,000 and 10,000 ports leased by another live
   process, and the registry's file count; and how long exhausting a fully
   leased range takes to raise.

testsupport runs on a private registry directory (removed at the end). Its
collision phase uses TESTSUPPORT_PORT_LEASE=2: every round asks for a fresh
port without releasing it, as ``find_unused_port`` callers do, so with the
default 60-second lease 8 busy processes would hold more ports than the range
has. The benchmark only imports CPython's ``test.support`` to compare with it.
"""
from __future__ import absolute_import, division, print_function

import argparse
import errno
import multiprocessing
import os
import platform
import shutil
import socket
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from testsupport import allocator, platform_shim, socket_helper  # noqa: E402

HOST = '127.0.0.1'
clock = time.perf_counter


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


def load_methods():
    """``[(name, function, needs_reuseaddr)]`` for every method importable here."""
    methods = [('bare bind(0)', bare_bind0, False),
               ('testsupport', socket_helper.find_unused_port, False)]
    try:
        from test.support import socket_helper as cpython
        methods.append(('CPython find_unused_port', cpython.find_unused_port, False))
    except ImportError:
        try:
            from test import support as cpython  # 2.7, 3.6-3.8
            methods.append(('CPython find_unused_port', cpython.find_unused_port, False))
        except (ImportError, AttributeError):
            pass
    try:
        import portpicker
        methods.append(('portpicker', _returning(portpicker), False))
    except ImportError:
        pass
    try:
        import ephemeral_port_reserve
        methods.append(('ephemeral-port-reserve', ephemeral_port_reserve.reserve, True))
    except ImportError:
        pass
    try:
        import port_for
        methods.append(('port-for', port_for.select_random, False))
    except ImportError:
        pass
    try:
        import portend
        methods.append(('portend', portend.find_available_local_port, False))
    except ImportError:
        pass
    return methods


# -- 1. latency --------------------------------------------------------------

def latency(methods, calls, slow_calls, batch=100):
    """Median seconds per call, per method name (batches interleaved)."""
    times = dict((name, []) for name, _, _ in methods)
    budget = dict((name, calls if name != 'port-for' else slow_calls) for name, _, _ in methods)
    while any(len(times[name]) < budget[name] for name in times):
        for name, function, _ in methods:
            todo = min(batch, budget[name] - len(times[name]))
            record = times[name]
            for _ in range(todo):
                start = clock()
                function()
                record.append(clock() - start)
    return dict((name, median(values)) for name, values in times.items())


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


def worker(index, rounds, wait, hold, start, results):
    function, reuse = dict((n, (f, r)) for n, f, r in load_methods())[index]
    start.wait()
    collisions = errors = 0
    first_error = ''
    for _ in range(rounds):
        try:
            port = function()
        except Exception as exc:  # a method giving up counts, with its message
            errors += 1
            first_error = first_error or repr(exc)
            continue
        time.sleep(wait)
        sock = socket.socket()
        try:
            if reuse:
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
    results.put((collisions, errors, first_error))


def collisions(name, processes, rounds, wait, hold):
    ctx = multiprocessing.get_context('fork')
    stop = ctx.Event()
    start = ctx.Event()
    results = ctx.Queue()
    deadline = time.time() + 600
    churners = [ctx.Process(target=connection_churner, args=(stop, deadline)),
                ctx.Process(target=bind0_churner, args=(stop, deadline))]
    workers = [ctx.Process(target=worker, args=(name, rounds, wait, hold, start, results))
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
    first_error = next((e for _, _, e in outcome if e), '')
    return (processes * rounds, sum(c for c, _, _ in outcome), sum(e for _, e, _ in outcome),
            elapsed, first_error)


# -- 3. leases ---------------------------------------------------------------

def holder(count, port_range, ready, stop, reply):
    """Lease *count* ports (fewer if the range ends), report, hold until *stop*."""
    os.environ[allocator.RANGE_ENV_VAR] = '%d-%d' % port_range
    held = []
    try:
        while len(held) < count:
            held.append(allocator.reserve_port())
    except allocator.NoFreePortError:
        pass
    reply.put(len(held))
    ready.set()
    stop.wait(600)
    for port in held:
        allocator.release_port(port)
    allocator._release_at_exit()


def start_holder(count, port_range):
    ctx = multiprocessing.get_context('fork')
    ready, stop, reply = ctx.Event(), ctx.Event(), ctx.Queue()
    process = ctx.Process(target=holder, args=(count, port_range, ready, stop, reply))
    process.start()
    held = reply.get(timeout=120)
    ready.wait(120)
    return process, stop, held


def lease_scaling(base, calls, levels):
    rows = []
    default_range = allocator._default_range(platform_shim.current().ephemeral_port_range())
    for live in levels:
        directory = os.path.join(base, 'scaling-%d' % live)
        os.environ[allocator.REGISTRY_ENV_VAR] = directory
        process = None
        if live:
            process, stop, held = start_holder(live, default_range)
        samples = []
        for _ in range(calls):
            start = clock()
            socket_helper.find_unused_port()
            samples.append(clock() - start)
        files = len([n for n in os.listdir(directory) if n.endswith('.lease')])
        if process is not None:
            stop.set()
            process.join(60)
        rows.append((live, median(samples), files))
    return rows


def exhaustion(base, size):
    """Seconds until reserve_port() raises when another process leases the whole range."""
    low = allocator._default_range(platform_shim.current().ephemeral_port_range())[0]
    low = (low // allocator.BLOCK_SIZE + 1) * allocator.BLOCK_SIZE
    port_range = (low, low + size - 1)
    os.environ[allocator.REGISTRY_ENV_VAR] = os.path.join(base, 'exhaustion')
    process, stop, held = start_holder(size, port_range)
    os.environ[allocator.RANGE_ENV_VAR] = '%d-%d' % port_range
    start = clock()
    try:
        allocator.reserve_port()
        message = 'no error: a port was free'
    except allocator.NoFreePortError as exc:
        message = str(exc)
    elapsed = clock() - start
    del os.environ[allocator.RANGE_ENV_VAR]
    stop.set()
    process.join(60)
    return port_range, held, elapsed, message


# -- the report ----------------------------------------------------------------

def table(headers, rows):
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows)]
    rule = '  '.join('=' * w for w in widths)
    lines = [rule, '  '.join(str(h).ljust(w) for h, w in zip(headers, widths)), rule]
    lines += ['  '.join(str(c).ljust(w) for c, w in zip(row, widths)) for row in rows]
    lines.append(rule)
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true', help='a tenth of the rounds')
    parser.add_argument('--processes', type=int, default=8)
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    base = tempfile.mkdtemp(prefix='tsu-bench-')
    os.environ[allocator.REGISTRY_ENV_VAR] = os.path.join(base, 'latency')
    for name in (allocator.RANGE_ENV_VAR, allocator.STRATEGY_ENV_VAR, allocator.LEASE_ENV_VAR):
        os.environ.pop(name, None)
    try:
        out = []
        plat = platform_shim.current()
        low, high = plat.ephemeral_port_range()
        out.append('Port allocation benchmark: %s, Python %s, %d CPUs, ephemeral ports %d-%d'
                   % (platform.platform(), platform.python_version(), os.cpu_count(), low, high))
        out.append('')
        methods = load_methods()
        lat = latency(methods, 20000 // scale, 300 // scale)
        bare = lat['bare bind(0)']
        rows = [(name, '%.1f us' % (lat[name] * 1e6), '%.2fx' % (lat[name] / bare))
                for name, _, _ in methods]
        out.append('Latency of one call (median; port-for: %d calls, others %d)'
                   % (300 // scale, 20000 // scale))
        out.append('')
        out.append(table(['method', 'median', 'vs bind(0)'], rows))
        out.append('')

        procs = args.processes
        wait, hold = 0.0005, 0.001
        crows = []
        for name, _, _ in methods:
            if name == 'testsupport':
                rounds = 12500 // scale
                os.environ[allocator.REGISTRY_ENV_VAR] = os.path.join(base, 'collisions')
                os.environ[allocator.LEASE_ENV_VAR] = '2'
            elif name == 'port-for':
                rounds = 250 // scale
            else:
                rounds = 2000 // scale
            total, hits, errors, elapsed, first = collisions(name, procs, rounds, wait, hold)
            os.environ.pop(allocator.LEASE_ENV_VAR, None)
            crows.append((name, '{:,}'.format(total), hits, errors, '%.1f s' % elapsed))
            if first:
                crows[-1] = crows[-1] + (first[:60],)
        out.append('Collisions: %d processes x K rounds of allocate, wait %.1f ms, bind, hold '
                   '%.1f ms, close; with loopback connection churn and a bind(0) churner'
                   % (procs, wait * 1e3, hold * 1e3))
        out.append('')
        headers = ['method', 'allocations', 'collisions', 'errors', 'time']
        if any(len(r) > 5 for r in crows):
            headers.append('first error')
            crows = [r + ('',) * (6 - len(r)) for r in crows]
        out.append(table(headers, crows))
        out.append('')
        out.append('Every method\'s port is bound on 127.0.0.1. portend checks the first address '
                   'getaddrinfo(None, 0) gives (::1 here), so its port is free on ::1 but often '
                   'held on 127.0.0.1 by another worker.')
        out.append('')

        srows = lease_scaling(base, 20000 // scale, (0, 1000, 10000))
        none = srows[0][1]
        out.append('testsupport find_unused_port (%d calls, each leased for 60 s) with ports '
                   'leased by another live process; registry files = blocks of 32 held by both'
                   % (20000 // scale))
        out.append('')
        out.append(table(['live leases', 'median', 'vs none', 'registry files'],
                         [('{:,}'.format(live), '%.1f us' % (m * 1e6), '%.2fx' % (m / none),
                           files) for live, m, files in srows]))
        out.append('')
        port_range, held, elapsed, message = exhaustion(base, 10000)
        out.append('Exhausting %d-%d (%s ports leased by another live process): the next '
                   'reserve_port() raised after %.1f ms:' % (port_range[0], port_range[1],
                                                             '{:,}'.format(held), elapsed * 1e3))
        out.append('')
        out.append('    ' + message)
        print('\n'.join(out))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
