"""The README's examples run (as attrs doctests its README).

The documentation's examples run under ``sphinx-build -b doctest`` (``tox -e
docs``); tests/test_docs.py also runs them on every interpreter.
"""
from __future__ import absolute_import, division, print_function

import doctest
import os
import re
import unittest

from testsupport import _compat
from tests.test_migration import SPELLINGS, interpreter_module
from tests.test_pytest_plugin import PytestRunMixin, needs_pytest, outcome

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'README.rst')


def python_blocks(text=None):
    """The source of each ``.. code-block:: python`` in the README (or *text*)."""
    if text is None:
        with open(README) as fp:
            text = fp.read()
    sources = []
    for block in text.split('.. code-block:: python\n')[1:]:
        lines = []
        for line in block.splitlines()[1:]:
            if line and not line.startswith('    '):
                break
            lines.append(line[4:])
        sources.append('\n'.join(lines))
    return sources


class ReadmeTest(PytestRunMixin, unittest.TestCase):

    @unittest.skipIf(_compat.PY2, '2.7 prints exception names unqualified, so the '
                                  'tracebacks read differently; 3.x checks them')
    def test_doctests_pass(self):
        failures, tried = doctest.testfile(README, module_relative=False,
                                           optionflags=doctest.ELLIPSIS)
        self.assertGreater(tried, 0)
        self.assertEqual(failures, 0)

    def test_unittest_blocks_run_and_their_tests_pass(self):
        blocks = [b for b in python_blocks() if 'pytest' not in b]
        self.assertGreaterEqual(len(blocks), 3)
        for source in blocks:
            namespace = {'__name__': 'readme_example'}
            exec(compile(source, README, 'exec'), namespace)
            cases = [v for v in namespace.values()
                     if isinstance(v, type) and issubclass(v, unittest.TestCase)]
            for case in cases:
                result = unittest.TestResult()
                unittest.defaultTestLoader.loadTestsFromTestCase(case).run(result)
                self.assertTrue(result.wasSuccessful(), (result.failures, result.errors))
                self.assertGreater(result.testsRun, 0)

    @needs_pytest
    @unittest.skipIf(_compat.PY2, 'the plugin section\'s example imports socketserver (Python 3)')
    def test_pytest_block_passes_under_the_plugin(self):
        blocks = [b for b in python_blocks() if 'pytest' in b]
        self.assertEqual(len(blocks), 1)
        files = dict(('test_readme_%d.py' % i, b) for i, b in enumerate(blocks))
        status, output = self.run_pytest(files)
        self.assertEqual(status, 0, output)
        counts = outcome(output)
        self.assertEqual(counts.get('skipped'), 1, output)  # requires('network')
        self.assertGreaterEqual(counts.get('passed', 0), 3, output)


def section(title):
    """The text of the README's section *title*, up to the next section."""
    with open(README) as fp:
        text = fp.read()
    start = text.index('\n%s\n%s\n' % (title, '-' * len(title)))
    following = re.search(r'\n[^\n]+\n-{3,}\n', text[start + 1:])
    return text[start:start + 1 + following.start()] if following else text[start:]


class MigratingSectionTest(unittest.TestCase):
    """"Migrating" shows a one-line replacement for each historical spelling, and it runs."""

    def block(self, index):
        old, _module, new, _replacement, _pinned = SPELLINGS[index]
        line = '%s  # was: %s' % (new, old)
        blocks = python_blocks(section('Migrating'))
        self.assertEqual(len(blocks), len(SPELLINGS), 'one example per historical spelling')
        matching = [b for b in blocks if line in b.splitlines()]
        self.assertEqual(len(matching), 1, 'no example with the line %r' % line)
        return matching[0], line

    def run_block(self, source):
        namespace = {'__name__': 'readme_migrating'}
        exec(compile(source, README, 'exec'), namespace)
        cases = [v for v in namespace.values()
                 if isinstance(v, type) and issubclass(v, unittest.TestCase)]
        self.assertEqual(len(cases), 1)
        result = unittest.TestResult()
        unittest.defaultTestLoader.loadTestsFromTestCase(cases[0]).run(result)
        self.assertTrue(result.wasSuccessful(), (result.failures, result.errors))
        self.assertEqual(result.skipped, [])
        self.assertGreater(result.testsRun, 0)

    def check_with_testsupport(self, index):
        source, _line = self.block(index)
        self.run_block(source)

    def check_with_the_old_import(self, index):
        # The example's body is the old suite's, unchanged: with the line put
        # back, it passes against this interpreter's own module where that
        # module still has the names the body uses.
        old, module_name, new, _replacement, _pinned = SPELLINGS[index]
        source, line = self.block(index)
        module = interpreter_module(module_name)
        if module is None:
            self.skipTest('%r does not import the socket helpers on this interpreter' % old)
        alias = new.split()[-1]
        used = sorted(set(re.findall(r'\b%s\.(\w+)' % alias, source)))
        self.assertTrue(used)
        missing = [name for name in used if not hasattr(module, name)]
        if missing:
            self.skipTest('%r gives no %s on this interpreter' % (old, ', '.join(missing)))
        self.run_block(source.replace(line, old))

    def test_test_support_example_runs(self):
        self.check_with_testsupport(0)

    def test_support_example_runs(self):
        self.check_with_testsupport(1)

    def test_socket_helper_example_runs(self):
        self.check_with_testsupport(2)

    def test_test_support_example_runs_with_the_old_import(self):
        self.check_with_the_old_import(0)

    def test_support_example_runs_with_the_old_import(self):
        self.check_with_the_old_import(1)

    def test_socket_helper_example_runs_with_the_old_import(self):
        self.check_with_the_old_import(2)
