"""Sphinx configuration for testsupport's documentation.

Build (from the repository root): ``python -m tox -e docs``, or by hand::

    python -m pip install -r docs/requirements.txt -e .
    python -m sphinx -W --keep-going -b html docs docs/_build/html
    python -m sphinx -W --keep-going -b doctest docs docs/_build/doctest
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, 'docs'))

import testsupport  # noqa: E402

project = 'testsupport'
author = 'testsupport developers'
copyright = 'testsupport developers (MIT licence)'
release = testsupport.__version__
version = '.'.join(release.split('.')[:2])

extensions = [
    'sphinx.ext.autodoc',
    'sphinx.ext.doctest',
    'sphinx.ext.intersphinx',
    'sphinx.ext.viewcode',
    'sphinxarg.ext',
    '_ext.toplevel',
]

exclude_patterns = ['_build']
nitpicky = True
# Names the docstrings mention that have no page of their own to link to.
# The standard library has no inventory here (the build runs offline), so its
# names are left unlinked rather than reported.
nitpick_ignore_regex = [
    (r'py:.*', r'(unittest|socket|socketserver|SocketServer|errno|subprocess|os|warnings'
               r'|argparse|io|threading|tempfile)(\..*)?'),
    (r'py:.*', r'(OSError|IOError|TimeoutError|ValueError|TypeError|Exception|Warning'
               r'|UserWarning|RuntimeWarning|RuntimeError|KeyboardInterrupt|int|str|bytes'
               r'|bool|float|None|object|type|list|tuple|dict)'),
]
# A private module a public docstring names: nothing to link to.
nitpick_ignore = [
    ('py:mod', 'testsupport._leases'),
]

default_role = 'code'
# Keep '--lease' and "quotes" as typed: they are command lines, not prose.
smartquotes = False
# Literal blocks (::) here are shell commands and program output more often than
# Python; Python examples say so (code-block:: python, testcode, >>>).
highlight_language = 'none'
autodoc_member_order = 'bysource'
autodoc_default_options = {'show-inheritance': True}
autodoc_typehints = 'none'  # the signatures are Python 2.7-compatible; types live in the .pyi stubs
add_module_names = False

# No network at build time: intersphinx inventories are optional.
intersphinx_mapping = {}
intersphinx_disabled_reftypes = ['*']

html_theme = 'furo'
html_title = 'testsupport %s' % release
html_static_path = []



def resolve_short_names(app, env, node, contnode):
    """Resolve a docstring's short reference (``find_unused_port``,
    ``servers.make_listener``) to the one public testsupport object it names.

    The docstrings are written for readers of the source, relative to their own
    package; Sphinx would otherwise report them as missing targets."""
    if node.get('refdomain') != 'py':
        return None
    target = node['reftarget'].lstrip('~.')
    if target.startswith('testsupport.'):
        return None
    domain = env.get_domain('py')
    if 'testsupport.' + target in domain.objects:
        found = ['testsupport.' + target]
    else:
        matches = [name for name in domain.objects
                   if name.startswith('testsupport.') and name.endswith('.' + target)]
        shallowest = min([name.count('.') for name in matches] or [0])
        found = [name for name in matches if name.count('.') == shallowest]
    if len(found) != 1:
        return None
    return domain.resolve_xref(env, node.get('refdoc', ''), app.builder, node['reftype'],
                               found[0], node, contnode)


def setup(app):
    app.connect('missing-reference', resolve_short_names)


# -- doctest builder: every example runs -----------------------------------
doctest_global_setup = '''
import socket, sys, unittest
from _ext.runexamples import run_testcases, run_pytest
'''
doctest_default_flags = (__import__('doctest').ELLIPSIS
                         | __import__('doctest').NORMALIZE_WHITESPACE
                         | __import__('doctest').DONT_ACCEPT_TRUE_FOR_1)
