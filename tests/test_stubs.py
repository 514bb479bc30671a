"""The .pyi stubs match the modules: every name in __all__, and the signatures."""
from __future__ import absolute_import, division, print_function

import importlib
import os
import unittest

import testsupport
from testsupport import _compat

try:
    import ast
    import inspect
    signature = inspect.signature
except AttributeError:  # Python 2.7: no inspect.signature
    signature = None

#: Modules with a stub; pytest_plugin only where pytest is installed.
MODULES = ['testsupport', 'testsupport.allocator', 'testsupport.mixin',
           'testsupport.platform_shim', 'testsupport.pytest_plugin', 'testsupport.servers',
           'testsupport.socket_helper', 'testsupport.support']

PACKAGE_DIR = os.path.dirname(os.path.abspath(testsupport.__file__))


def stub_path(module_name):
    if module_name == 'testsupport':
        return os.path.join(PACKAGE_DIR, '__init__.pyi')
    return os.path.join(PACKAGE_DIR, module_name.split('.')[-1] + '.pyi')


def stub_names(tree):
    """``{name: node}`` for the top-level definitions of a parsed stub."""
    names = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names[target.id] = node
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.asname == alias.name:  # "import x as x": a re-export
                    names[alias.name] = node
    return names


def stub_params(func):
    """``[(name, kind, has_default)]`` of a stub ``def``."""
    args = func.args
    params = []
    positional = args.args
    defaults = [False] * (len(positional) - len(args.defaults)) + [True] * len(args.defaults)
    for arg, has_default in zip(positional, defaults):
        params.append((arg.arg, 'POSITIONAL_OR_KEYWORD', has_default))
    if args.vararg is not None:
        params.append((args.vararg.arg, 'VAR_POSITIONAL', False))
    if args.kwarg is not None:
        params.append((args.kwarg.arg, 'VAR_KEYWORD', False))
    return params


def overloads_params(funcs):
    """``stub_params`` of one stub ``def``, or of its ``@overload``s taken together.

    The overloads must name the same parameters; one has a default if any
    overload gives it one. Otherwise the list of each overload's params.
    """
    each = [stub_params(func) for func in funcs]
    if len(set(tuple((n, k) for n, k, _d in params) for params in each)) != 1:
        return each
    return [(n, k, any(params[i][2] for params in each)) for i, (n, k, _d) in enumerate(each[0])]


def runtime_params(obj):
    params = [(p.name, p.kind.name, p.default is not p.empty)
              for p in signature(obj).parameters.values()]
    return params


def pairs(module_name):
    """``(label, runtime object, stub node)`` for every name the stub must describe."""
    module = importlib.import_module(module_name)
    with open(stub_path(module_name)) as fp:
        tree = ast.parse(fp.read(), stub_path(module_name))
    names = stub_names(tree)
    for name in module.__all__:
        yield '%s.%s' % (module_name, name), getattr(module, name), names.get(name)


@unittest.skipIf(signature is None, 'the stubs use Python 3 syntax: parsed with ast on '
                                    'Python 3 only')
class StubsTest(unittest.TestCase):

    def module_names(self):
        names = list(MODULES)
        try:
            import pytest  # noqa: F401
        except ImportError:
            names.remove('testsupport.pytest_plugin')
        return names

    def test_py_typed_marker_present(self):
        self.assertTrue(os.path.isfile(os.path.join(PACKAGE_DIR, 'py.typed')))

    def test_every_public_name_in_stub(self):
        missing = [label for module_name in self.module_names()
                   for label, _obj, node in pairs(module_name) if node is None]
        self.assertEqual(missing, [], 'names in __all__ without a stub entry')

    def test_stub_all_is_the_modules(self):
        # mypy.stubtest checks this too (.ci/stubtest); here it runs with the suite.
        for module_name in self.module_names():
            module = importlib.import_module(module_name)
            with open(stub_path(module_name)) as fp:
                node = stub_names(ast.parse(fp.read())).get('__all__')
            self.assertIsNotNone(node, '%s has no __all__' % stub_path(module_name))
            self.assertEqual(ast.literal_eval(node.value), module.__all__, module_name)

    def test_function_signatures_match(self):
        mismatches = []
        for module_name in self.module_names():
            for label, obj, node in pairs(module_name):
                if isinstance(node, ast.FunctionDef) and inspect.isfunction(obj):
                    if runtime_params(obj) != stub_params(node):
                        mismatches.append((label, runtime_params(obj), stub_params(node)))
        self.assertEqual(mismatches, [])

    def test_class_methods_match(self):
        mismatches = []
        for module_name in self.module_names():
            for label, obj, node in pairs(module_name):
                if not (isinstance(node, ast.ClassDef) and inspect.isclass(obj)):
                    continue
                stubbed = {}
                for item in node.body:
                    if isinstance(item, ast.FunctionDef):
                        stubbed.setdefault(item.name, []).append(item)
                for name, value in sorted(vars(obj).items()):
                    if not inspect.isfunction(value) or (name.startswith('_')
                                                         and name != '__init__'):
                        continue
                    if name == '__init__' and name not in stubbed:
                        continue  # an exception class's inherited-style __init__
                    expected = runtime_params(value)
                    got = overloads_params(stubbed[name]) if name in stubbed else None
                    if expected != got:
                        mismatches.append(('%s.%s' % (label, name), expected, got))
        self.assertEqual(mismatches, [])


class StubSkipReasonTest(unittest.TestCase):

    def test_runs_on_every_python(self):
        # On 2.7 StubsTest skips; this pins why, so the skip is a decision.
        self.assertEqual(signature is None, _compat.PY2)
