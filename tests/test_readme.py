"""The README's examples run (as attrs doctests its README)."""
from __future__ import absolute_import, division, print_function

import doctest
import os
import unittest

from testsupport import _compat
from tests.test_pytest_plugin import PytestRunMixin, needs_pytest, outcome

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'README.rst')


def python_blocks():
    """The source of each ``.. code-block:: python`` in the README."""
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
        self.assertEqual(len(blocks), 2)
        files = dict(('test_readme_%d.py' % i, b) for i, b in enumerate(blocks))
        status, output = self.run_pytest(files)
        self.assertEqual(status, 0, output)
        counts = outcome(output)
        self.assertEqual(counts.get('skipped'), 1, output)  # requires('network')
        self.assertGreaterEqual(counts.get('passed', 0), 3, output)
