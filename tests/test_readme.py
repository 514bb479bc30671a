"""The README's examples run (as attrs doctests its README)."""
from __future__ import absolute_import, division, print_function

import doctest
import os
import unittest

from testsupport import _compat

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'README.rst')


class ReadmeTest(unittest.TestCase):

    @unittest.skipIf(_compat.PY2, '2.7 prints exception names unqualified, so the '
                                  'tracebacks read differently; 3.x checks them')
    def test_doctests_pass(self):
        failures, tried = doctest.testfile(README, module_relative=False,
                                           optionflags=doctest.ELLIPSIS)
        self.assertGreater(tried, 0)
        self.assertEqual(failures, 0)

    def test_python_blocks_run_and_their_tests_pass(self):
        with open(README) as fp:
            text = fp.read()
        blocks = text.split('.. code-block:: python\n')[1:]
        self.assertTrue(blocks)
        for block in blocks:
            lines = []
            for line in block.splitlines()[1:]:
                if line and not line.startswith('    '):
                    break
                lines.append(line[4:])
            source = '\n'.join(lines)
            if 'pytest' in source:
                continue  # pytest-style examples are run by tests/test_pytest_plugin.py
            namespace = {'__name__': 'readme_example'}
            exec(compile(source, README, 'exec'), namespace)
            cases = [v for v in namespace.values()
                     if isinstance(v, type) and issubclass(v, unittest.TestCase)]
            for case in cases:
                result = unittest.TestResult()
                unittest.defaultTestLoader.loadTestsFromTestCase(case).run(result)
                self.assertTrue(result.wasSuccessful(), (result.failures, result.errors))
                self.assertGreater(result.testsRun, 0)
