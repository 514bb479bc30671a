"""The package's structure: imports point one way, and no module uses another's _private names.

Walks ``testsupport/*.py`` with :mod:`ast`. Every import counts as an edge,
at module level or inside a function: a lazy import is still a dependency.
A private *module* (``_compat``, ``_sockets``, ``_leases``) offers its public
names to its siblings; ``module._name`` is that module's alone.
"""
from __future__ import absolute_import, division, print_function

import ast
import os
import unittest

import testsupport

_PACKAGE = os.path.dirname(os.path.abspath(testsupport.__file__))
_NAME = 'testsupport'


def modules():
    """``{module name: ast tree}`` for every testsupport/*.py (``testsupport`` is __init__)."""
    trees = {}
    for filename in sorted(os.listdir(_PACKAGE)):
        if filename.endswith('.py'):
            name = filename[:-3]
            with open(os.path.join(_PACKAGE, filename)) as fp:
                trees[_NAME if name == '__init__' else name] = ast.parse(fp.read(), filename)
    return trees


def _imported(node, known):
    """``[(module, bound name or None, imported attribute or None)]`` for an import node."""
    found = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            parts = alias.name.split('.')
            if parts[0] == _NAME:
                target = parts[1] if len(parts) > 1 else _NAME
                found.append((target, alias.asname or (parts[0] if not alias.asname else None),
                              None))
    elif isinstance(node, ast.ImportFrom):
        module = node.module or ''
        if node.level == 1 or module.split('.')[0] == _NAME:
            parts = module.split('.') if module else []
            if node.level == 0:
                parts = parts[1:]
            base = parts[0] if parts else _NAME
            for alias in node.names:
                if base == _NAME and alias.name in known:
                    found.append((alias.name, alias.asname or alias.name, None))
                else:
                    found.append((base, None, alias.name))
    return found


def analyse(trees=None):
    """``(edges, private uses)``: ``{module: set(imported modules)}`` and problem texts."""
    trees = modules() if trees is None else trees
    edges = dict((name, set()) for name in trees)
    private = []
    for name, tree in trees.items():
        bound = {}
        for node in ast.walk(tree):
            for target, alias, attribute in _imported(node, trees):
                if target == name:
                    continue
                edges[name].add(target)
                if alias:
                    bound[alias] = target
                if attribute and attribute.startswith('_') and not attribute.startswith('__'):
                    private.append('%s imports %s.%s (line %d)'
                                   % (name, target, attribute, node.lineno))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in bound and node.attr.startswith('_')
                    and not node.attr.startswith('__')):
                private.append('%s uses %s.%s (line %d)'
                               % (name, bound[node.value.id], node.attr, node.lineno))
    return edges, sorted(set(private))


def cycles(edges):
    """Every import cycle, as a list of module names from one module back to it."""
    found = []
    state = {}

    def visit(name, path):
        state[name] = 'open'
        for target in sorted(edges.get(name, ())):
            if state.get(target) == 'open':
                found.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[name] = 'done'

    for name in sorted(edges):
        if name not in state:
            visit(name, [name])
    return found


class LayersTest(unittest.TestCase):

    def test_no_import_cycle(self):
        edges, _private = analyse()
        self.assertEqual(cycles(edges), [])

    def test_no_use_of_another_modules_private_names(self):
        _edges, private = analyse()
        self.assertEqual(private, [])

    def test_the_layers_point_down(self):
        edges, _private = analyse()
        order = ['_compat', '_system', 'platform_shim', '_processes', '_tempdirs', '_port_tables',
                 '_holder', '_leases', '_sockets', '_config', '_allocator', '_ports', 'allocator',
                 'socket_helper', '_waits', 'servers', '_supervisor', '_launcher', 'server_process', 'mixin']
        for index, lower in enumerate(order):
            for higher in order[index + 1:]:
                self.assertNotIn(higher, edges[lower], '%s imports %s' % (lower, higher))
        for top in ('mixin', 'pytest_plugin', '_detached', '_cli'):
            for name in order:
                self.assertNotIn(top, edges[name])


class CheckerTest(unittest.TestCase):
    """The checks can fail: they find a cycle and private uses in made-up modules."""

    def trees(self, **sources):
        return dict((name, ast.parse(text)) for name, text in sources.items())

    def test_a_cycle_through_a_lazy_import_is_found(self):
        edges, _private = analyse(self.trees(
            a='from . import b\n', b='from .c import x\n',
            c='def f():\n    from testsupport import a\n'))
        self.assertEqual(cycles(edges), [['a', 'b', 'c', 'a']])

    def test_private_uses_are_found(self):
        _edges, private = analyse(self.trees(
            a='_x = 1\n', b='from . import a\ndef f():\n    return a._x, a.__name__\n',
            c='from .a import _x\n', d='import testsupport\ntestsupport._y\n'))
        self.assertEqual(private, ['b uses a._x (line 3)', 'c imports a._x (line 1)',
                                   'd uses testsupport._y (line 2)'])

if __name__ == '__main__':
    unittest.main()
