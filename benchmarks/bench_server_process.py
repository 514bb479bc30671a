"""Benchmark: servers in child processes, start_server_process against pick-a-number.

Part 1, start + one connection + stop: for each way of starting
tests/child_server.py (a tiny TCP server answering ``hello <pid>``) it starts
the child, waits until ready, connects and reads the greeting, stops it; median
and spread over ``--runs`` runs (default 30), the ways interleaved, each as a
ratio to the plain way: lease a port (``reserve_port``), ``Popen`` the server
with it, poll ``connect()`` every 2 ms, ``terminate()``, ``wait()``. Then the
cost of ``stop()`` against ``terminate()`` + ``wait()``, and how long after a
child's ``listen()`` (80 ms after its start) discover mode returns.

Part 2, stress (``--stress N``, default 1000; 0 skips it): a test file of N
tests, each starting a child server through the ``start_server_process``
fixture in ``inherit`` or ``discover`` mode (alternating), run under
``pytest -n WORKERS`` (default 8) while a non-cooperating process churns
``bind(port 0)`` on loopback, holding the last 2,000 ports it got. Reports the
outcome, the address-in-use errors and the wall time; ``--stress-mode pick``
runs the same tests with the pick-a-number pattern for comparison.

    python benchmarks/bench_server_process.py
    python benchmarks/bench_server_process.py --runs 10 --stress 200 --workers 4
    python benchmarks/bench_server_process.py --runs 0 --stress 1000 --stress-mode pick

Needs pytest and pytest-xdist for the running Python (Linux/macOS: inherit and
discover need POSIX, discover needs /proc or lsof).
"""
from __future__ import absolute_import, division, print_function

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from testsupport import _compat, server_process  # noqa: E402

CHILD = os.path.join(ROOT, 'tests', 'child_server.py')
ADDRESS_IN_USE = re.compile(r'Address already in use|EADDRINUSE|\[Errno 98\]|\[Errno 48\]')
OUTCOME = re.compile(r'(\d+) (passed|failed|errors?)')

STRESS_TEST = '''
import sys

import pytest

from testsupport import servers

sys.path.insert(0, %(here)r)
from bench_server_process import greet, pick_a_number  # noqa: E402

CHILD = %(child)r
MODE = %(mode)r


@pytest.mark.parametrize('n', range(%(tests)d))
def test_child_server(n, start_server_process):
    if MODE == 'pick':
        port = pick_a_number()
        server = start_server_process([sys.executable, CHILD, '--port', str(port)],
                                      mode='discover')
        assert server.port == port
    elif n %% 2:
        server = start_server_process([sys.executable, CHILD, '--listen-fds'], mode='inherit')
    else:
        server = start_server_process([sys.executable, CHILD, '--port', '0'], mode='discover')
    greet(server.host, server.port)
'''

CHURNER = '''
import collections, socket, sys
held = collections.deque()
while True:
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    held.append(sock)
    if len(held) > 2000:
        held.popleft().close()
'''


def greet(host, port):
    sock = socket.create_connection((host, port), 30)
    try:
        assert sock.recv(100).startswith(b'hello')
    finally:
        sock.close()


def pick_a_number():
    """The racy pattern under comparison: bind port 0, close, return the number."""
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def plain_way():
    """The plain way: lease a port, Popen the server with it, poll connect() every 2 ms,
    terminate(), wait()."""
    from testsupport import allocator
    port = allocator.reserve_port()
    try:
        devnull = open(os.devnull, 'wb')
        try:
            process = subprocess.Popen([sys.executable, CHILD, '--port', str(port)],
                                       stdout=devnull)
        finally:
            devnull.close()
        try:
            while True:
                try:
                    sock = socket.create_connection(('127.0.0.1', port), 1)
                except socket.error:
                    if process.poll() is not None:
                        raise RuntimeError('the child exited')
                    time.sleep(0.002)
                    continue
                sock.close()
                break
            greet('127.0.0.1', port)
        finally:
            process.terminate()
            process.wait()
    finally:
        allocator.release_port(port)


def with_mode(mode, args):
    def run():
        server = server_process.start_server_process([sys.executable, CHILD] + args, mode)
        try:
            greet(server.host, server.port)
        finally:
            server.stop()
    return run


def timed(func):
    start = _compat.monotonic()
    func()
    return _compat.monotonic() - start


def stop_cost(runs):
    """Median stop() of a running server against terminate() + wait() of a Popen."""
    plain, ours = [], []
    for _ in range(runs):
        process = subprocess.Popen([sys.executable, CHILD, '--port', '0'],
                                   stdout=subprocess.PIPE)
        process.stdout.readline()
        start = _compat.monotonic()
        process.terminate()
        process.wait()
        plain.append(_compat.monotonic() - start)
        process.stdout.close()
        server = server_process.start_server_process([sys.executable, CHILD, '--port', '0'],
                                                     'discover')
        start = _compat.monotonic()
        server.stop()
        ours.append(_compat.monotonic() - start)
    return median(plain), median(ours)


def readiness_latency(runs, delay=0.08):
    """Median time from the child's listen() to start_server_process() returning."""
    late = []
    for _ in range(runs):
        server = server_process.start_server_process(
            [sys.executable, CHILD, '--port', '0', '--delay', str(delay)], 'discover')
        returned = time.time()
        try:
            listened = float(server.stderr.split('listening at ')[1].split()[0])
        finally:
            server.stop()
        late.append(returned - listened)
    return median(late)


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def timings(runs):
    ways = [('plain: lease, Popen, connect every 2 ms, terminate', plain_way),
            ("start_server_process(mode='inherit')", with_mode('inherit', ['--listen-fds'])),
            ("start_server_process(mode='discover')", with_mode('discover', ['--port', '0'])),
            ("start_server_process(mode='lease')", with_mode('lease', ['--port', '{port}']))]
    times = dict((name, []) for name, _ in ways)
    for _, run in ways:
        run()  # warm up
    for _ in range(runs):  # interleaved, so that load changes hit every way alike
        for name, run in ways:
            times[name].append(timed(run))
    baseline = median(times[ways[0][0]])
    print('start + one connection + stop, %d runs each, interleaved (median, min-max), '
          'ratio to the plain way:' % runs)
    for name, _ in ways:
        values = sorted(times[name])
        print('  %-52s %6.1f ms  (%.1f-%.1f)  x%.2f'
              % (name, median(values) * 1000, values[0] * 1000, values[-1] * 1000,
                 median(values) / baseline))
    plain, ours = stop_cost(max(runs // 2, 1))
    print('stop of a running server: terminate()+wait() %.1f ms, ServerProcess.stop() %.1f ms '
          '(x%.2f)' % (plain * 1000, ours * 1000, ours / plain))
    print('readiness: a child listening after 80 ms is seen %.1f ms after its listen() '
          '(median)' % (readiness_latency(max(runs // 2, 1)) * 1000))


def stress(tests, workers, mode):
    directory = tempfile.mkdtemp(prefix='bench-server-process-')
    churner = None
    try:
        with open(os.path.join(directory, 'test_stress.py'), 'w') as fp:
            fp.write(textwrap.dedent(STRESS_TEST % {'child': CHILD, 'mode': mode, 'here': HERE,
                                                    'tests': tests}))
        env = dict(os.environ, PYTHONPATH=ROOT,
                   TESTSUPPORT_PORT_REGISTRY=os.path.join(directory, 'registry'))
        churner = subprocess.Popen([sys.executable, '-c', CHURNER])
        start = _compat.monotonic()
        proc = subprocess.Popen([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
                                 '-p', 'no:testsupport', '-p', 'testsupport.pytest_plugin',
                                 '-n', str(workers), 'test_stress.py'],
                                cwd=directory, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        output = proc.communicate()[0].decode('utf-8', 'replace')
        elapsed = _compat.monotonic() - start
    finally:
        if churner is not None:
            churner.kill()
            churner.wait()
        shutil.rmtree(directory, True)
    summary = [line for line in output.splitlines() if OUTCOME.search(line)]
    in_use = len(ADDRESS_IN_USE.findall(output))
    label = 'inherit/discover' if mode != 'pick' else 'pick a number + --port N'
    print('stress: %d tests (%s) under -n %d with a bind(0) churner: %s; '
          'address-in-use errors: %d; %.1f s'
          % (tests, label, workers, summary[-1].strip('= ') if summary else '?', in_use,
             elapsed))
    if proc.returncode != 0:
        print('\n'.join(output.splitlines()[-30:]))
    return proc.returncode == 0 and in_use == 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--runs', type=int, default=30)
    parser.add_argument('--stress', type=int, default=1000, metavar='N')
    parser.add_argument('--workers', type=int, default=8)
    parser.add_argument('--stress-mode', choices=['processes', 'pick'], default='processes')
    args = parser.parse_args(argv)
    print('Python %s on %s, %d CPUs' % (sys.version.split()[0], sys.platform,
                                        os.sysconf('SC_NPROCESSORS_ONLN')))
    if args.runs:
        timings(args.runs)
    ok = True
    if args.stress:
        ok = stress(args.stress, args.workers, args.stress_mode)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
