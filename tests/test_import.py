"""``import testsupport`` loads only what ``import unittest, socket`` loads, plus a short list."""
from __future__ import absolute_import, division, print_function

import ast
import os
import re
import subprocess
import sys
import unittest

import testsupport

_PACKAGE = os.path.dirname(os.path.abspath(testsupport.__file__))
# Prints the modules "import testsupport" adds to "import unittest, socket".
_SCRIPT = '''
import sys
import unittest, socket
before = set(sys.modules)
import testsupport
added = set(m for m in sys.modules if m not in before and sys.modules[m] is not None)
print(repr(sorted(m for m in added if m.split('.')[0] != 'testsupport')))
'''


def justified_modules():
    """The modules named in the comment of testsupport/__init__.py (``#   name  -- why``)."""
    with open(os.path.join(_PACKAGE, '__init__.py')) as fp:
        return set(re.findall(r'^#   ([\w.]+) +-- ', fp.read(), re.MULTILINE))


def unjustified(added):
    """The modules of *added* not justified, a justified module's submodules being justified.

    (On CPython 3.15, ``import math`` also loads ``math.integer`` and ``_math_integer``.)
    """
    justified = justified_modules()
    return set(m for m in added if m not in justified and m.split('.')[0] not in justified
               and not any(m.startswith('_%s_' % name) for name in justified))


def _stdlib_without_site():
    """True if this interpreter finds unittest without site (not in a 2.7 virtualenv)."""
    if not _without_site:
        with open(os.devnull, 'wb') as devnull:
            _without_site.append(subprocess.call([sys.executable, '-S', '-c', 'import unittest'],
                                                 stdout=devnull, stderr=devnull, cwd='/') == 0)
    return _without_site[0]


_without_site = []


def added_modules(*flags):
    """The modules ``import testsupport`` adds, in a child without coverage's start-up hook.

    Coverage's .pth (.ci/install_coverage_pth.py) imports coverage, and with it
    math and more, before the script runs; that would hide what we load. So
    the child runs without site (-S) where the standard library is found
    without it (a 2.7 virtualenv needs site), and without COVERAGE_PROCESS_START.
    """
    if _stdlib_without_site():
        flags = ('-S',) + flags
    env = dict(os.environ)
    env.pop('COVERAGE_PROCESS_START', None)
    env['PYTHONPATH'] = os.pathsep.join([os.path.dirname(_PACKAGE)] +
                                        [p for p in [env.get('PYTHONPATH')] if p])
    proc = subprocess.Popen([sys.executable] + list(flags) + ['-c', _SCRIPT], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd='/')
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise AssertionError('the import failed: %s' % err.decode('utf-8', 'replace'))
    return set(ast.literal_eval(out.decode('ascii').strip()))


class LightImportTest(unittest.TestCase):

    def test_the_justified_list_is_short_and_read(self):
        justified = justified_modules()
        self.assertIn('atexit', justified)
        self.assertLessEqual(len(justified), 6)

    def test_import_adds_only_justified_modules(self):
        unexpected = unjustified(added_modules())
        self.assertEqual(sorted(unexpected), [],
                         'import testsupport loads modules that import unittest, socket does '
                         'not: import them where they are used, or justify them in '
                         'testsupport/__init__.py')

    def test_heavy_modules_are_not_loaded(self):
        added = added_modules()
        for name in ('subprocess', 'tempfile', 'shutil', 'random', 'hashlib', 'ssl', 'ctypes',
                     'json', 'argparse', 'urllib', 'urllib2', 'socketserver', 'SocketServer',
                     'select', 'struct'):
            self.assertNotIn(name, added)

    def test_the_same_with_warnings_as_errors(self):
        self.assertEqual(sorted(unjustified(added_modules('-W', 'error'))), [])


if __name__ == '__main__':
    unittest.main()
