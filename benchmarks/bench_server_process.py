"""Benchmark: servers in child processes, start_server_process against pick-a-number.

Part 1, start to first response: for each way of starting tests/child_server.py
(a tiny TCP server answering ``hello <pid>``) it starts the child, waits until
ready, connects and reads the greeting, stops it; median and spread over
``--runs`` runs (default 30). The baseline is the usual pattern: pick a number
(``bind(port 0)``, close, as CPython's ``find_unused_port`` and pytest-asyncio's
``unused_tcp_port`` do), pass it as ``--port N``, poll with ``wait_for_port``.

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

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from testsupport import _compat, server_process, servers  # noqa: E402

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


def pick_a_number_then_start():
    port = pick_a_number()
    devnull = open(os.devnull, 'wb')
    try:
        process = subprocess.Popen([sys.executable, CHILD, '--port', str(port)], stdout=devnull)
    finally:
        devnull.close()
    try:
        servers.wait_for_port(port)
        greet('127.0.0.1', port)
    finally:
        process.terminate()
        process.wait()


def with_mode(mode, args):
    def run():
        server = server_process.start_server_process([sys.executable, CHILD] + args, mode)
        try:
            greet(server.host, server.port)
        finally:
            server.stop()
    return run


def timings(runs):
    ways = [('pick a number, --port N, wait_for_port', pick_a_number_then_start),
            ("start_server_process(mode='inherit')", with_mode('inherit', ['--listen-fds'])),
            ("start_server_process(mode='discover')", with_mode('discover', ['--port', '0'])),
            ("start_server_process(mode='lease')", with_mode('lease', ['--port', '{port}']))]
    results = []
    for name, run in ways:
        run()  # warm up
        times = []
        for _ in range(runs):
            start = _compat.monotonic()
            run()
            times.append(_compat.monotonic() - start)
        times.sort()
        results.append((name, times[len(times) // 2], times[0], times[-1]))
    baseline = results[0][1]
    print('start to first response, %d runs each (median, min-max), ratio to the baseline:'
          % runs)
    for name, median, low, high in results:
        print('  %-42s %6.1f ms  (%.1f-%.1f)  x%.2f'
              % (name, median * 1000, low * 1000, high * 1000, median / baseline))


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
