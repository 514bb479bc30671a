"""Helpers for the doctest builder (``sphinx-build -b doctest``): they run the
documentation's unittest and pytest examples and print a one-line outcome."""
import os
import re
import subprocess
import sys
import tempfile
import unittest

DOCS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(DOCS)


def run_testcases(namespace):
    """Run every TestCase class defined in *namespace* (pass ``globals()``)."""
    cases = [value for value in list(namespace.values())
             if isinstance(value, type) and issubclass(value, unittest.TestCase)
             and not value.__module__.startswith(('unittest', 'testsupport'))]
    suite = unittest.TestSuite(unittest.defaultTestLoader.loadTestsFromTestCase(case)
                               for case in cases)
    result = unittest.TestResult()
    suite.run(result)
    if result.wasSuccessful() and result.testsRun:
        print('OK')
    else:
        print('ran %d: %r %r' % (result.testsRun, result.failures, result.errors))


def _plugin_args():
    try:
        from importlib.metadata import entry_points
        names = [ep.name for ep in entry_points(group='pytest11')]
    except Exception:
        names = []
    return [] if 'testsupport' in names else ['-p', 'testsupport.pytest_plugin']


def run_pytest(*examples, **options):
    """Run pytest on files of ``docs/examples`` in a fresh directory; print the counts.

    ``extra`` (a list) adds arguments, e.g. ``['-n', '2']``.
    """
    work = tempfile.mkdtemp(prefix='testsupport-docs-')
    for name in examples:
        with open(os.path.join(DOCS, 'examples', name)) as src:
            text = src.read()
        with open(os.path.join(work, os.path.basename(name)), 'w') as dst:
            dst.write(text)
    env = dict(os.environ)
    env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
    env.pop('TESTSUPPORT_USE', None)
    command = ([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-rs']
               + _plugin_args() + list(options.get('extra', [])) + ['.'])
    process = subprocess.Popen(command, cwd=work, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, universal_newlines=True)
    output = process.communicate()[0]
    counts = dict((word, int(count)) for count, word in
                  re.findall(r'(\d+) (passed|failed|skipped|errors?)', output.splitlines()[-1]))
    if process.returncode != 0 or counts.get('failed') or counts.get('error'):
        print(output)
    print(', '.join('%d %s' % (counts[word], word) for word in ('passed', 'skipped')
                    if word in counts))
