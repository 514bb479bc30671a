"""Benchmark: many server tests under pytest-xdist, counting address-in-use errors.

Writes a test file of N tests (default 2,000) into a temporary directory; each
test takes a port from the ``unused_tcp_port`` fixture, serves an echo
``TCPServer`` on it through the ``start_server_thread`` fixture and does one
round trip. Then runs ``python -m pytest -n WORKERS`` on it (default 8) and
reports the outcome, the number of "address already in use" errors and the wall
time. Exits 0 only if every test passed with no such error.

    python benchmarks/bench_xdist.py                      # 2000 tests, -n 8
    python benchmarks/bench_xdist.py --tests 500 --workers 4
    python benchmarks/bench_xdist.py --strategy ephemeral # CPython's find_unused_port

The run uses a private registry (``TESTSUPPORT_PORT_REGISTRY`` in its temporary
directory: a kernel namespace of its own on Linux), so it leaves other users of
the machine alone. ``--strategy ephemeral`` sets ``TESTSUPPORT_PORT_STRATEGY=ephemeral``: ports
come from ``bind(port 0)``, then close, with no leases, for comparison. Needs
pytest and pytest-xdist for the running Python; the testsupport under test is
the one this script imports.
"""
from __future__ import absolute_import, division, print_function

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import testsupport  # noqa: E402  (after the path set-up)

# The same server test the suite runs at -n 4 (tests/test_pytest_plugin.py).
from tests.test_pytest_plugin import XDIST_SERVER_TEST as TEST_SOURCE  # noqa: E402

ADDRESS_IN_USE = re.compile(r'Address already in use|EADDRINUSE|\[Errno 98\]|\[Errno 48\]|'
                            r'\[WinError 10048\]')
OUTCOME = re.compile(r'(\d+) (passed|failed|errors?)')


def run(count, workers, strategy):
    """Run the benchmark; return a dict of the figures."""
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(testsupport.__file__)))
    directory = tempfile.mkdtemp(prefix='tsu-bench-')
    try:
        with open(os.path.join(directory, 'test_servers.py'), 'w') as fp:
            fp.write(TEST_SOURCE % {'count': count})
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join([package_parent, env.get('PYTHONPATH', '')])
        env['PYTHONDONTWRITEBYTECODE'] = '1'
        env['TESTSUPPORT_PORT_STRATEGY'] = strategy
        # A lease namespace of the run's own: it neither takes ports from nor is
        # kept off ports by other users of the machine.
        env['TESTSUPPORT_PORT_REGISTRY'] = os.path.join(directory, 'registry')
        command = [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
                   '-p', 'no:testsupport', '-p', 'testsupport.pytest_plugin', '-p', 'xdist',
                   '-n', str(workers), 'test_servers.py']
        started = time.time()
        proc = subprocess.Popen(command, cwd=directory, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output = proc.communicate()[0].decode('utf-8', 'replace')
        elapsed = time.time() - started
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    figures = {'passed': 0, 'failed': 0, 'error': 0}
    summary = [line for line in output.splitlines() if re.search(r' in [\d.]+ ?s', line)]
    for number, word in OUTCOME.findall(summary[-1] if summary else ''):
        figures['error' if word.startswith('error') else word] = int(number)
    figures.update(tests=count, workers=workers, strategy=strategy, status=proc.returncode,
                   address_in_use=len(ADDRESS_IN_USE.findall(output)), seconds=elapsed,
                   output=output)
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--tests', type=int, default=2000, help='number of tests (2000)')
    parser.add_argument('--workers', type=int, default=8, help='xdist workers, -n (8)')
    parser.add_argument('--strategy', choices=('registry', 'ephemeral'), default='registry',
                        help='TESTSUPPORT_PORT_STRATEGY for the run (registry)')
    parser.add_argument('--show-output', action='store_true', help="print pytest's output")
    args = parser.parse_args(argv)
    figures = run(args.tests, args.workers, args.strategy)
    if args.show_output or figures['status'] not in (0, 1):
        print(figures['output'])
    print('bench_xdist: python %s, %d tests at -n %d, strategy %s: %d passed, %d failed, '
          '%d errors, %d address-in-use errors, %.1f s'
          % ('.'.join(str(part) for part in sys.version_info[:3]), figures['tests'],
             figures['workers'], figures['strategy'], figures['passed'], figures['failed'],
             figures['error'], figures['address_in_use'], figures['seconds']))
    ok = (figures['status'] == 0 and figures['passed'] == args.tests
          and figures['address_in_use'] == 0)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
