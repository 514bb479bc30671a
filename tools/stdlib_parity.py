"""Run CPython's own socket-using test modules with testsupport's helpers swapped in.

For each interpreter and each stdlib test module that uses the socket helpers,
the module runs in a fresh subprocess in up to three variants:

``stock``
    as is, with the interpreter's own ``test.support`` helpers;
``swapped``
    every public name of the interpreter's helper module that
    ``testsupport.socket_helper`` also has is replaced by testsupport's, HOST
    included, BEFORE the test module is imported (3.9+: on
    ``test.support.socket_helper``; 3.6-3.8: on ``test.support``; 2.7: on
    ``test.support``, which is the same module object as ``test.test_support``);
``keephost``
    the same, but HOST keeps the interpreter's value (``"localhost"`` on 3.7+);
    only run where the two HOSTs differ.

Resources are all disabled (``support.use_resources = []``), so tests that need
the network, the CPU or the GUI skip as they do in a bare ``regrtest`` run.
Every test id that passes as is but fails, errors or skips when swapped is rerun
once in both variants; what still fails is a regression. The exit status is 1
if any module fares worse swapped than stock, else 0.

Usage, from the repository root::

    python3.13 tools/stdlib_parity.py
    python3.13 tools/stdlib_parity.py --python python2.7,python3.6,python3.13
    python2.7 tools/stdlib_parity.py --modules test_socket,test_ftplib -v

Runs with any of Python 2.7 and 3.6-3.15; the child processes use the
interpreter(s) given by ``--python`` (default: the one running this script).
"""
from __future__ import absolute_import, division, print_function

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: The default module set, in the order they are scheduled (slowest first);
#: each is used only where it exists and refers to one of the swapped names.
DEFAULT_MODULES = [
    'test_socket',
    'test_asyncio.test_events',
    'test_ssl',
    'test_socketserver',
    'test_asyncio.test_sock_lowlevel',
    'test_ftplib',
    'test_httplib',
    'test_xmlrpc',
    'test_urllib2_localnet',
    'test_smtplib',
    'test_poplib',
    'test_telnetlib',
]

#: Resources a module needs although it only talks to loopback: regrtest
#: without ``-u`` skips all of test_socketserver for want of "network".
MODULE_RESOURCES = {'test_socketserver': ['network']}

#: Tests left out as (id substring, version prefix or '', reason): they hang, or
#: time out one by one, as is on this kind of host, so they prove nothing.
DEFAULT_EXCLUDE = [
    ('test_socket.ThreadedVSOCKSocketStreamTest', '',
     'connecting to the own VSOCK CID hangs where /dev/vsock exists but no hypervisor '
     'answers; it also binds the fixed port 1234, so parallel runs collide'),
    ('test_ftplib.TestTLS_FTPClass', '2.7.',
     '2.7 against OpenSSL 3: all 34 TLS tests error after a 10 s timeout each (~290 s)'),
]

#: Rounds of reruns a suspected regression must fail (and pass stock) in.
RERUN_ROUNDS = 3

VARIANTS = ('stock', 'swapped', 'keephost')
FAILED = ('failure', 'error')
DEFAULT_TIMEOUT = 300.0
DEFAULT_PARALLEL = 4
POLL_INTERVAL = 0.1
TRACEBACK_LINES = 30


# ---------------------------------------------------------------------------
# Child side: runs inside the interpreter under test.

def _helper_modules():
    """Return the interpreter's module(s) holding the socket helpers."""
    try:
        from test.support import socket_helper  # 3.9+
        return [socket_helper]
    except ImportError:
        pass
    from test import support
    modules = [support]
    try:
        from test import test_support  # 2.7: the same module object as test.support
    except ImportError:
        test_support = support
    if test_support is not support:
        modules.append(test_support)
    return modules


def _swappable_names(targets):
    from testsupport import socket_helper
    return sorted(name for name in socket_helper.__all__
                  if any(hasattr(target, name) for target in targets))


def _swap_helpers(variant):
    """Install testsupport's helpers on the interpreter's; return what was swapped."""
    from testsupport import socket_helper, support as ts_support
    ts_support.use_resources = []
    targets = _helper_modules()
    names = _swappable_names(targets)
    if variant == 'keephost':
        names.remove('HOST')
    originals = []
    for target in targets:
        for name in names:
            if hasattr(target, name):
                old = getattr(target, name)
                if callable(old):
                    originals.append((name, old))
                setattr(target, name, getattr(socket_helper, name))
    return names, originals


def _stale_references(originals):
    """Names under which a test.* module still holds an interpreter helper."""
    stale = set()
    for modname, module in list(sys.modules.items()):
        if module is None or not (modname == 'test' or modname.startswith('test.')):
            continue
        for attr, value in list(vars(module).items()):
            for name, old in originals:
                if value is old:
                    stale.add('%s.%s (%s)' % (modname, attr, name))
    return sorted(stale)


def _short_traceback(text):
    lines = text.rstrip().splitlines()
    if len(lines) > TRACEBACK_LINES:
        lines = ['...'] + lines[-TRACEBACK_LINES:]
    return '\n'.join(lines)


class _RecordingResult(unittest.TestResult):
    """TestResult keeping one outcome (and a traceback or reason) per test id."""

    _RANK = {'success': 0, 'xfail': 0, 'skip': 1, 'uxsuccess': 2, 'failure': 3, 'error': 4}

    def __init__(self):
        super(_RecordingResult, self).__init__()
        self.outcomes = {}

    def _record(self, test, outcome, detail=''):
        test_id = test.id()
        previous = self.outcomes.get(test_id)
        if previous is None or self._RANK[outcome] >= self._RANK[previous[0]]:
            self.outcomes[test_id] = [outcome, detail]

    def addSuccess(self, test):
        super(_RecordingResult, self).addSuccess(test)
        self._record(test, 'success')

    def addFailure(self, test, err):
        super(_RecordingResult, self).addFailure(test, err)
        self._record(test, 'failure', _short_traceback(self.failures[-1][1]))

    def addError(self, test, err):
        super(_RecordingResult, self).addError(test, err)
        self._record(test, 'error', _short_traceback(self.errors[-1][1]))

    def addSkip(self, test, reason):
        super(_RecordingResult, self).addSkip(test, reason)
        self._record(test, 'skip', str(reason))

    def addExpectedFailure(self, test, err):
        super(_RecordingResult, self).addExpectedFailure(test, err)
        self._record(test, 'xfail')

    def addUnexpectedSuccess(self, test):
        super(_RecordingResult, self).addUnexpectedSuccess(test)
        self._record(test, 'uxsuccess')

    def addSubTest(self, test, subtest, err):
        super(_RecordingResult, self).addSubTest(test, subtest, err)
        if err is not None:
            failed = issubclass(err[0], test.failureException)
            text = ''.join(traceback.format_exception(*err))
            self._record(test, 'failure' if failed else 'error',
                         '%s\n%s' % (subtest.id(), _short_traceback(text)))


def _iter_tests(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            for test in _iter_tests(item):
                yield test
        else:
            yield item


def _select(suite, only_ids, exclude):
    def wanted(test):
        test_id = test.id()
        if only_ids is not None and test_id not in only_ids:
            return False
        return not any(pattern in test_id for pattern in exclude)
    return unittest.TestSuite([test for test in _iter_tests(suite) if wanted(test)])


def _make_run_unittest(result, only_ids, exclude):
    """A stand-in for support.run_unittest running into *result*, never raising."""
    loader = unittest.TestLoader()

    def run_unittest(*classes):
        suite = unittest.TestSuite()
        for cls in classes:
            if isinstance(cls, str):
                suite.addTest(loader.loadTestsFromModule(sys.modules[cls]))
            elif isinstance(cls, (unittest.TestSuite, unittest.TestCase)):
                suite.addTest(cls)
            else:
                suite.addTest(loader.loadTestsFromTestCase(cls))
        _select(suite, only_ids, exclude).run(result)
    return run_unittest


def _child(module, variant, result_path, only_ids, exclude):
    started = time.time()
    report = {'module': module, 'variant': variant, 'status': 'ok', 'swapped': [],
              'stale': [], 'outcomes': {}, 'tests_run': 0, 'detail': ''}
    result = _RecordingResult()
    try:
        from test import support
        support.use_resources = list(MODULE_RESOURCES.get(module, []))
        support.verbose = 0
        originals = []
        if variant != 'stock':
            report['swapped'], originals = _swap_helpers(variant)
        # As regrtest does: a module's test_main() (2.7, some 3.6-3.8 modules)
        # decides which classes run; otherwise the loader (and load_tests).
        support.run_unittest = _make_run_unittest(result, only_ids, exclude)
        name = 'test.' + module
        __import__(name)
        the_module = sys.modules[name]
        report['stale'] = _stale_references(originals)
        if hasattr(the_module, 'test_main'):
            the_module.test_main()
        else:
            suite = unittest.TestLoader().loadTestsFromModule(the_module)
            _select(suite, only_ids, exclude).run(result)
    except unittest.SkipTest as exc:
        report['status'] = 'module-skipped'
        report['detail'] = str(exc)
    except BaseException:
        report['status'] = 'crash'
        report['detail'] = _short_traceback(traceback.format_exc())
    report['outcomes'] = result.outcomes
    report['tests_run'] = result.testsRun
    report['seconds'] = round(time.time() - started, 1)
    with open(result_path, 'w') as stream:
        json.dump(report, stream)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # Leftover non-daemon threads must not hold the process.


def _probe(candidates, result_path):
    """Report the interpreter's version and which candidate modules to run."""
    import test
    from test import support
    targets = _helper_modules()
    swapped = _swappable_names(targets)
    from testsupport import socket_helper
    pattern = re.compile(r'\b(%s)\b' % '|'.join(swapped))
    base = os.path.dirname(os.path.abspath(test.__file__))
    modules, skipped = [], {}
    for module in candidates:
        path = os.path.join(base, *module.split('.'))
        if os.path.isdir(path):
            path = os.path.join(path, '__init__.py')
        else:
            path += '.py'
        if not os.path.exists(path):
            skipped[module] = 'absent'
            continue
        with io.open(path, encoding='utf-8', errors='replace') as stream:
            used = sorted(set(pattern.findall(stream.read())))
        if used:
            modules.append([module, used])
        else:
            skipped[module] = 'uses none of the swapped names'
    report = {
        'version': sys.version.split()[0],
        'executable': sys.executable,
        'helper_module': targets[0].__name__,
        'swapped': swapped,
        'host': targets[0].HOST,
        'ts_host': socket_helper.HOST,
        'has_support_run_unittest': hasattr(support, 'run_unittest'),
        'modules': modules,
        'skipped': skipped,
    }
    with open(result_path, 'w') as stream:
        json.dump(report, stream)


# ---------------------------------------------------------------------------
# Parent side.

class _Job(object):
    """One child process: an interpreter, a module, a variant, maybe a test subset."""

    def __init__(self, python, args, timeout, label):
        self.python = python
        self.args = args
        self.timeout = timeout
        self.label = label
        self.workdir = tempfile.mkdtemp(prefix='parity-')
        self.result_path = os.path.join(self.workdir, 'result.json')
        self.log_path = os.path.join(self.workdir, 'output.log')
        self.process = None
        self.deadline = None
        self.timed_out = False
        self.report = None

    def start(self):
        env = dict(os.environ)
        env['PYTHONPATH'] = ROOT
        env['TMPDIR'] = self.workdir
        env.pop('PYTHONWARNINGS', None)
        command = [self.python, os.path.abspath(__file__)] + self.args + [self.result_path]
        self.log = open(self.log_path, 'wb')
        self.process = subprocess.Popen(command, cwd=self.workdir, env=env, stdin=subprocess.PIPE,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        self.process.stdin.close()
        self.deadline = time.time() + self.timeout

    def poll(self):
        """True once the process has ended (killed at its deadline)."""
        if self.process.poll() is None:
            if time.time() < self.deadline:
                return False
            self.timed_out = True
            self.process.kill()
            self.process.wait()
        self.log.close()
        self.report = self._read_report()
        shutil.rmtree(self.workdir, ignore_errors=True)
        return True

    def _read_report(self):
        try:
            with open(self.result_path) as stream:
                return json.load(stream)
        except (IOError, OSError, ValueError):
            with open(self.log_path, 'rb') as stream:
                tail = stream.read().decode('utf-8', 'replace')
            status = 'timeout' if self.timed_out else 'crash'
            return {'status': status, 'outcomes': {}, 'tests_run': 0, 'stale': [],
                    'swapped': [], 'seconds': self.timeout if self.timed_out else None,
                    'detail': '%s after %ss; exit status %s; output ends:\n%s'
                              % (status, self.timeout, self.process.returncode,
                                 _short_traceback(tail))}


def _run_jobs(jobs, parallel, verbose):
    pending = list(jobs)
    running = []
    while pending or running:
        while pending and len(running) < parallel:
            job = pending.pop(0)
            job.start()
            running.append(job)
        for job in list(running):
            if job.poll():
                running.remove(job)
                if verbose:
                    report = job.report
                    print('  %-60s %-14s %5s tests %6ss' % (
                        job.label, report['status'], report['tests_run'], report.get('seconds')))
                    sys.stdout.flush()
        if running:
            time.sleep(POLL_INTERVAL)


def _resolve(python):
    """The absolute path of interpreter *python* (pyenv shims need the repo's cwd)."""
    output = subprocess.check_output([python, '-c', 'import sys; print(sys.executable)'],
                                     cwd=ROOT)
    return output.decode('ascii').strip()


def _probe_interpreter(python, candidates):
    job = _Job(python, ['--probe', ','.join(candidates)], 60, 'probe')
    _run_jobs([job], 1, False)
    if 'modules' not in job.report:
        raise SystemExit('cannot probe %s: %s' % (python, job.report.get('detail')))
    return job.report


def _counts(report):
    tally = dict((key, 0) for key in ('failure', 'error', 'skip'))
    for outcome, _ in report['outcomes'].values():
        if outcome in tally:
            tally[outcome] += 1
    return tally


def _regressions(stock, swapped):
    """Test ids that pass stock but fail, error, skip or vanish swapped."""
    found = {}
    for test_id, (outcome, _) in stock['outcomes'].items():
        if outcome != 'success':
            continue
        other = swapped['outcomes'].get(test_id)
        if other is None:
            found[test_id] = ['missing', swapped.get('detail', '')]
        elif other[0] not in ('success', 'xfail'):
            found[test_id] = other
    for test_id, (outcome, detail) in swapped['outcomes'].items():
        if outcome in FAILED and test_id not in stock['outcomes']:
            found[test_id] = [outcome, detail]
    return found


def _passed(report, test_id):
    return report['outcomes'].get(test_id, ['missing'])[0] in ('success', 'xfail')


def _classify(python, info, module, suspects, variant, args):
    """Rerun *suspects* up to RERUN_ROUNDS times; sort them by what explains them.

    ``flaky``: passes swapped in some round, or fails stock in some round too;
    ``host``: always fails swapped but always passes with the interpreter's HOST
    kept (the documented HOST difference); ``helper``: always fails with
    testsupport's functions and always passes stock.
    """
    only = ['--only', ','.join(sorted(suspects))] + _exclude_args(args, info)
    host_differs = info['host'] != info['ts_host']
    variants = ['stock', variant] + (['keephost'] if host_differs and variant != 'keephost' else [])
    flaky, keephost_failed = set(), set()
    for round_number in range(RERUN_ROUNDS):
        jobs = [_Job(python, ['--child', module, v] + only, args.timeout,
                     'rerun %d %s %s' % (round_number + 1, module, v)) for v in variants]
        # One at a time: a rerun must not meet a fixed-port test of another run.
        _run_jobs(jobs, 1, args.verbose)
        reports = dict(zip(variants, [job.report for job in jobs]))
        for test_id in suspects:
            if _passed(reports[variant], test_id):
                flaky.add(test_id)
            if reports['stock']['status'] == 'ok' and not _passed(reports['stock'], test_id):
                flaky.add(test_id)
            if 'keephost' in reports and not _passed(reports['keephost'], test_id):
                keephost_failed.add(test_id)
        if flaky.issuperset(suspects):
            break
    found = {'flaky': {}, 'host': {}, 'helper': {}}
    for test_id, outcome in suspects.items():
        if test_id in flaky:
            kind = 'flaky'
        elif 'keephost' in variants and test_id not in keephost_failed:
            kind = 'host'
        else:
            kind = 'helper'
        found[kind][test_id] = outcome
    return found


def _compare(python, info, module, reports, args):
    """The comparison of one module's variants against its stock run."""
    stock = reports['stock']
    row = {'module': module, 'stock': stock, 'variants': {}}
    for variant in ('swapped', 'keephost'):
        if variant not in reports:
            continue
        other = reports[variant]
        broken = other['status'] in ('crash', 'timeout') and stock['status'] not in ('crash',
                                                                                 'timeout')
        suspects = _regressions(stock, other)
        if broken or not suspects:
            found = {'flaky': {}, 'host': {}, 'helper': suspects}
        elif args.no_rerun:
            found = {'flaky': {}, 'host': {}, 'helper': suspects}
        else:
            found = _classify(python, info, module, suspects, variant, args)
        worse = broken or bool(found['helper']) or (args.strict_host and bool(found['host']))
        row['variants'][variant] = {'report': other, 'found': found, 'worse': worse,
                                    'broken': broken}
    return row


def _cell(report):
    if report['status'] != 'ok':
        return report['status']
    tally = _counts(report)
    return '%d/%d/%d' % (tally['failure'], tally['error'], tally['skip'])


def _verdict(name, variant):
    parts = []
    found = variant['found']
    if variant['broken']:
        parts.append('%s %s' % (name, variant['report']['status']))
    for kind, label in (('helper', 'regressed'), ('host', 'HOST-only'), ('flaky', 'flaky')):
        if found[kind]:
            parts.append('%d %s' % (len(found[kind]), label))
    text = ', '.join(parts) or 'same'
    if variant['worse']:
        text = 'WORSE: ' + text
    return text if name == 'swapped' else 'keephost: ' + text


def _print_interpreter(info, rows, stream):
    print('', file=stream)
    print('Python %s (%s)' % (info['version'], info['executable']), file=stream)
    print('  helpers in %s, HOST "%s"; swapped: %s' % (
        info['helper_module'], info['host'], ', '.join(info['swapped'])), file=stream)
    header = '%-32s %5s  %-12s %-14s %5s  %s' % (
        'module', 'run', 'stock f/e/s', 'swapped f/e/s', 'secs', 'verdict (secs: both runs)')
    print(header, file=stream)
    print('-' * (len(header) + 12), file=stream)
    for row in rows:
        stock = row['stock']
        swapped = row['variants']['swapped']
        verdicts = [_verdict(name, row['variants'][name])
                    for name in ('swapped', 'keephost') if name in row['variants']]
        seconds = (stock.get('seconds') or 0) + (swapped['report'].get('seconds') or 0)
        print('%-32s %5s  %-12s %-14s %5.0f  %s' % (
            row['module'], stock['tests_run'], _cell(stock), _cell(swapped['report']),
            seconds, '; '.join(verdicts)), file=stream)
    for row in rows:
        if row['stock']['status'] not in ('ok', 'module-skipped'):
            print('  %s stock: %s' % (row['module'], row['stock']['detail']), file=stream)
        for name in ('swapped', 'keephost'):
            variant = row['variants'].get(name)
            if variant is None:
                continue
            report = variant['report']
            if report['stale']:
                print('  %s %s: interpreter helpers still referenced: %s'
                      % (row['module'], name, ', '.join(report['stale'])), file=stream)
            if variant['broken']:
                print('  %s %s: %s' % (row['module'], name, report['detail']), file=stream)
            for kind, label in (('helper', 'REGRESSION'), ('host', 'HOST-only'),
                                ('flaky', 'flaky')):
                for test_id in sorted(variant['found'][kind]):
                    outcome, detail = variant['found'][kind][test_id]
                    print('  %s [%s] %s: %s' % (label, name, test_id, outcome), file=stream)
                    if detail and kind != 'flaky':
                        for line in detail.splitlines():
                            print('      ' + line, file=stream)


def _exclude_args(args, info):
    patterns = [pattern for pattern, version, _ in DEFAULT_EXCLUDE
                if info['version'].startswith(version)]
    patterns += args.exclude.split(',') if args.exclude else []
    return ['--exclude', ','.join(patterns)] if patterns else []


def _parse(argv):
    parser = argparse.ArgumentParser(
        description="Run CPython's socket-using test modules with the interpreter's own "
                    "test.support socket helpers, then with testsupport's, and compare.")
    parser.add_argument('--modules', default=None,
                        help='comma-separated test modules, e.g. test_socket,test_ftplib '
                             '(default: %s)' % ','.join(DEFAULT_MODULES))
    parser.add_argument('--python', default=None,
                        help='comma-separated interpreters to test, e.g. python2.7,python3.13 '
                             '(default: the one running this script)')
    parser.add_argument('--timeout', type=float, default=DEFAULT_TIMEOUT,
                        help='seconds per module run before it is killed (default: %(default)s)')
    parser.add_argument('-j', '--parallel', type=int, default=DEFAULT_PARALLEL,
                        help='child processes at once (default: %(default)s; they mostly '
                             'wait on sockets)')
    parser.add_argument('--keephost', action='store_true',
                        help="also run every module swapped but keeping the interpreter's "
                             "HOST (where it differs); by default only regressions are rerun so")
    parser.add_argument('--strict-host', action='store_true',
                        help='count failures explained by the HOST difference as regressions')
    parser.add_argument('--exclude', default=None,
                        help='comma-separated substrings of test ids to leave out, added to: '
                             + ', '.join('%s (%s)' % (p, v or 'all')
                                         for p, v, _ in DEFAULT_EXCLUDE))
    parser.add_argument('--no-rerun', action='store_true',
                        help='do not rerun suspected regressions to weed out flaky tests')
    parser.add_argument('--json', default=None, help='also write all results to this file')
    parser.add_argument('-v', '--verbose', action='store_true', help='print each run as it ends')
    parser.add_argument('--child', nargs=2, metavar=('MODULE', 'VARIANT'), help=argparse.SUPPRESS)
    parser.add_argument('--only', default=None, help=argparse.SUPPRESS)
    parser.add_argument('--probe', default=None, help=argparse.SUPPRESS)
    parser.add_argument('result', nargs='?', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None, stream=None):
    """Run the comparison; return 1 if any module fares worse swapped, else 0."""
    args = _parse(argv)
    stream = stream or sys.stdout
    if args.child:
        only = set(args.only.split(',')) if args.only else None
        exclude = [p for p in (args.exclude or '').split(',') if p]
        _child(args.child[0], args.child[1], args.result, only, exclude)
    if args.probe is not None:
        _probe(args.probe.split(','), args.result)
        return 0
    started = time.time()
    candidates = args.modules.split(',') if args.modules else DEFAULT_MODULES
    pythons = args.python.split(',') if args.python else [sys.executable]
    plan = []
    for python in pythons:
        executable = _resolve(python)
        info = _probe_interpreter(executable, candidates)
        variants = ['stock', 'swapped']
        if args.keephost and info['host'] != info['ts_host']:
            variants.append('keephost')
        jobs = {}
        for module, _ in info['modules']:
            for variant in variants:
                jobs[module, variant] = _Job(
                    executable, ['--child', module, variant] + _exclude_args(args, info),
                    args.timeout, '%s %s %s' % (info['version'], module, variant))
        plan.append((executable, info, jobs))
    # Slowest modules first, interleaving interpreters, so the workers stay busy.
    order = dict((module, index) for index, module in enumerate(DEFAULT_MODULES))
    all_jobs = [job for _, _, jobs in plan for job in jobs.values()]
    all_jobs.sort(key=lambda job: (order.get(job.args[1], -1), job.label))
    _run_jobs(all_jobs, args.parallel, args.verbose)
    worse = False
    dump = []
    for executable, info, jobs in plan:
        rows = []
        for module, _ in info['modules']:
            reports = dict((variant, jobs[module, variant].report)
                           for variant in VARIANTS if (module, variant) in jobs)
            row = _compare(executable, info, module, reports, args)
            rows.append(row)
            worse = worse or any(v['worse'] for v in row['variants'].values())
        _print_interpreter(info, rows, stream)
        if info['skipped']:
            print('  not run: %s' % ', '.join('%s (%s)' % item
                                              for item in sorted(info['skipped'].items())),
                  file=stream)
        excluded = _exclude_args(args, info)
        if excluded:
            print('  excluded: %s' % excluded[1], file=stream)
        dump.append({'info': info, 'rows': rows})
    print('\n%d interpreter(s), %.0f s: testsupport\'s helpers fare %s than the interpreter\'s'
          % (len(plan), time.time() - started, 'WORSE' if worse else 'no worse'), file=stream)
    if args.json:
        with open(args.json, 'w') as out:
            json.dump(dump, out, indent=1, sort_keys=True)
    return 1 if worse else 0


if __name__ == '__main__':
    sys.exit(main())
