"""The documentation's examples run on every interpreter, not only under the
docs build (``tox -e docs`` runs them as doctests on one Python 3).

- the tutorials' unittest examples (``.. testcode::`` blocks) pass;
- the migration tutorial's ``run_unittest`` recipes pass wherever this
  interpreter's ``test`` package still has ``run_unittest`` (2.7, 3.6-3.10);
- the pytest examples in docs/examples pass under the plugin.
"""
from __future__ import absolute_import, division, print_function

import io
import os
import re
import sys
import textwrap
import unittest

from testsupport import _compat
from tests.test_migration import interpreter_module
from tests.test_pytest_plugin import PytestRunMixin, needs_pytest, outcome

DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'docs')


def read(path):
    with io.open(os.path.join(DOCS, path), encoding='utf-8') as fp:
        return fp.read()


def blocks(text, directive):
    """The source of each visible ``.. <directive>`` block (*directive* as ``testcode::``) of *text* (not ``:hide:``)."""
    found = []
    for chunk in re.split(r'^\.\. %s[^\n]*\n' % re.escape(directive), text, flags=re.M)[1:]:
        lines = []
        hidden = False
        for line in chunk.splitlines():
            if line and not line.startswith(' '):
                break
            if re.match(r'^ +:[\w-]+:', line) and not any(l.strip() for l in lines):
                hidden = hidden or ':hide:' in line
                continue
            lines.append(line)
        if not hidden:
            found.append(textwrap.dedent('\n'.join(lines)).strip() + '\n')
    return found


def run_cases(test, source, name):
    namespace = {'__name__': name}
    exec(compile(source, name, 'exec'), namespace)
    cases = [v for v in namespace.values()
             if isinstance(v, type) and issubclass(v, unittest.TestCase)]
    test.assertTrue(cases, source)
    for case in cases:
        result = unittest.TestResult()
        unittest.defaultTestLoader.loadTestsFromTestCase(case).run(result)
        test.assertTrue(result.wasSuccessful(), (result.failures, result.errors))
        test.assertGreater(result.testsRun, 0)


class TutorialExamplesTest(unittest.TestCase):

    def check_page(self, path, expected):
        sources = blocks(read(path), 'testcode::')
        self.assertEqual(len(sources), expected, path)
        for source in sources:
            run_cases(self, source, path)

    def test_unittest_tutorial(self):
        self.check_page('tutorials/unittest.rst', 2)

    def test_migrating_tutorial(self):
        self.check_page('tutorials/migrating.rst', 3)


class RunUnittestRecipesTest(unittest.TestCase):
    """"Keeping run_unittest": each recipe runs where its old module still has it."""

    def recipe(self, import_line):
        sources = [b for b in blocks(read('tutorials/migrating.rst'), 'code-block:: python')
                   if 'run_unittest(' in b and import_line in b]
        self.assertEqual(len(sources), 1, import_line)
        return sources[0]

    def run_recipe(self, import_line, module_name):
        source = self.recipe(import_line)
        module = interpreter_module(module_name)
        if module is None or not hasattr(module, 'run_unittest'):
            self.skipTest('%s has no run_unittest on this interpreter' % module_name)
        namespace = {'__name__': 'docs_recipe'}
        exec(compile(source, 'migrating.rst', 'exec'), namespace)
        stdout, stderr = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = io.BytesIO() if _compat.PY2 else io.StringIO()
        try:
            namespace['test_main']()  # run_unittest raises TestFailed on a failure
        finally:
            sys.stdout, sys.stderr = stdout, stderr

    def test_2_7_recipe(self):
        self.run_recipe('from test import test_support ', 'test.test_support')

    def test_3_x_recipe(self):
        self.run_recipe('from test import support ', 'test.support')


@needs_pytest
class PytestExamplesTest(PytestRunMixin, unittest.TestCase):

    def run_example(self, name):
        status, output = self.run_pytest({name: read(os.path.join('examples', name))})
        self.assertEqual(status, 0, output)
        return outcome(output)

    def test_first_pytest_test(self):
        counts = self.run_example('test_first_pytest.py')
        self.assertEqual(counts.get('skipped'), 1)  # requires('network')
        self.assertGreaterEqual(counts.get('passed', 0), 2)

    def test_xdist_example(self):
        self.assertEqual(self.run_example('test_xdist_echo.py'), {'passed': 1})

    def test_child_server_example(self):
        self.assertEqual(self.run_example('test_child_server.py'), {'passed': 1})
