"""``.. toplevel-names::``: a table of ``testsupport.__all__``, each name linked to
the public module that documents it. Driven by ``__all__``, so it follows the
package as it changes: nothing to retype."""
import importlib

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

#: The public modules, in the order the reference lists them.
PUBLIC_MODULES = [
    'testsupport.socket_helper',
    'testsupport.support',
    'testsupport.allocator',
    'testsupport.servers',
    'testsupport.server_process',
    'testsupport.mixin',
    'testsupport.platform_shim',
]


def public_modules():
    """The public modules that exist in this checkout (server_process may not, yet)."""
    found = []
    for name in PUBLIC_MODULES:
        try:
            found.append(importlib.import_module(name))
        except ImportError:
            pass
    return found


def home_of(name, value, modules):
    """The first public module whose ``__all__`` has *name* bound to the same object."""
    for module in modules:
        if name in getattr(module, '__all__', ()) and getattr(module, name, None) is value:
            return module.__name__
    return None


class ToplevelNames(SphinxDirective):
    has_content = False

    def run(self):
        import testsupport
        modules = public_modules()
        lines = ['.. list-table::', '   :header-rows: 1', '   :widths: 30 70', '',
                 '   * - name', '     - documented in']
        for name in testsupport.__all__:
            value = getattr(testsupport, name)
            home = home_of(name, value, modules)
            if home is None:
                raise self.error('testsupport.%s is in no public module\'s __all__' % name)
            lines.append('   * - :obj:`%s <%s.%s>`' % (name, home, name))
            lines.append('     - :mod:`%s`' % home)
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source='toplevel-names'), self.content_offset,
                                container)
        return container.children


class PublicModule(SphinxDirective):
    """``.. public-module:: testsupport.X``: ``automodule`` with ``:members:`` and
    ``:undoc-members:`` (so ``__all__`` decides what is shown), plus ``autodata``
    for the names of ``__all__`` that autodoc skips: constants with no ``#:``
    comment, such as ``socket_helper.HOST``."""
    required_arguments = 1
    has_content = False

    def run(self):
        import inspect
        from sphinx.pycode import ModuleAnalyzer
        name = self.arguments[0]
        module = importlib.import_module(name)
        try:
            commented = set(attr for _scope, attr in
                            ModuleAnalyzer.for_module(name).find_attr_docs())
        except Exception:
            commented = set()
        lines = ['.. automodule:: %s' % name, '   :members:', '   :undoc-members:', '']
        for attr in getattr(module, '__all__', ()):
            value = getattr(module, attr)
            if (inspect.isclass(value) or inspect.isroutine(value) or inspect.ismodule(value)
                    or attr in commented):
                continue
            # Show constants (HOST, the variables' names), not values computed on
            # the build machine (IPV6_ENABLED) or long reprs (platform_shim.LINUX).
            constant = isinstance(value, str) or (isinstance(value, int)
                                                  and not isinstance(value, bool))
            lines += ['.. autodata:: %s.%s' % (name, attr), '' if constant else '   :no-value:', '']
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source=name), self.content_offset, container)
        return container.children


class ExceptionNames(SphinxDirective):
    """``.. exception-names::``: every exception and warning class in a public
    module's ``__all__``, with its bases and the first line of its docstring."""
    has_content = False

    def run(self):
        import inspect
        lines = ['.. list-table::', '   :header-rows: 1', '   :widths: 30 25 45', '',
                 '   * - class', '     - is a', '     - raised or warned']
        seen = set()
        for module in public_modules():
            for attr in getattr(module, '__all__', ()):
                value = getattr(module, attr)
                if not (inspect.isclass(value) and issubclass(value, BaseException)):
                    continue
                if value in seen or home_of(attr, value, [module]) is None:
                    continue
                seen.add(value)
                bases = ', '.join('``%s``' % base.__name__ for base in value.__bases__)
                doc = (inspect.getdoc(value) or '').strip().split('\n\n')[0]
                doc = ' '.join(doc.split())
                lines += ['   * - :exc:`%s <%s.%s>`' % (attr, module.__name__, attr),
                          '     - %s' % bases, '     - %s' % doc]
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source='exception-names'),
                                self.content_offset, container)
        return container.children


def setup(app):
    app.add_directive('exception-names', ExceptionNames)
    app.add_directive('toplevel-names', ToplevelNames)
    app.add_directive('public-module', PublicModule)
    return {'parallel_read_safe': True, 'parallel_write_safe': True}
