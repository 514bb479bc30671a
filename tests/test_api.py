"""The public surface: ``__all__`` of every module, and parity with the interpreter's test.support."""
from __future__ import absolute_import, division, print_function

import importlib
import inspect
import os
import shutil
import subprocess
import sys
import tempfile
import types
import unittest

import testsupport
from testsupport import socket_helper

# The public modules (everything else is an _underscored internal). pytest_plugin
# needs pytest; platform_shim's surface is pinned in its own tests.
PUBLIC_MODULES = ['testsupport', 'testsupport.allocator', 'testsupport.mixin',
                  'testsupport.platform_shim', 'testsupport.server_process',
                  'testsupport.servers', 'testsupport.socket_helper', 'testsupport.support']
OPTIONAL_MODULES = ['testsupport.pytest_plugin']

#: What users call, module by module: every name of ``__all__`` with its
#: signature (classes: the constructor's, and each public method or property).
#: A change here is a change of the public API: make it deliberately, and say
#: so in the changelog.
PUBLIC_SURFACE = {'testsupport': {'HOST': 'value',
                 'HOSTv4': 'value',
                 'HOSTv6': 'value',
                 'INTERNET_TIMEOUT': 'value',
                 'IPV6_ENABLED': 'value',
                 'LONG_TIMEOUT': 'value',
                 'LOOPBACK_TIMEOUT': 'value',
                 'NoFreePortError': 'class',
                 'PortRegistryWarning': 'class',
                 'ResourceDenied': 'class',
                 'SHORT_TIMEOUT': 'value',
                 'SOCK_MAX_SIZE': 'value',
                 'ServerProcess': 'class(self, argv, mode, host, port, stop_timeout, platform)',
                 'ServerProcess.address': 'property',
                 'ServerProcess.pid': 'property',
                 'ServerProcess.returncode': 'property',
                 'ServerProcess.stderr': 'property',
                 'ServerProcess.stdout': 'property',
                 'ServerProcess.stop': '(self, timeout=)',
                 'ServerStartError': 'class',
                 'SocketTestMixin': 'class',
                 'SocketTestMixin.assertPortFree': '(self, port, host=, family=, socktype=, '
                                                   'msg=)',
                 'SocketTestMixin.assertPortInUse': '(self, port, host=, family=, socktype=, '
                                                    'msg=)',
                 'SocketTestMixin.bind_port': '(self, sock, host=)',
                 'SocketTestMixin.bind_unix_socket': '(self, sock, addr=)',
                 'SocketTestMixin.find_unused_port': '(self, family=, socktype=)',
                 'SocketTestMixin.make_listener': '(self, family=, host=, backlog=)',
                 'SocketTestMixin.make_socket': '(self, family=, type=, proto=)',
                 'SocketTestMixin.make_udp_socket': '(self, family=, host=)',
                 'SocketTestMixin.requires': '(self, resource, msg=)',
                 'SocketTestMixin.skip_unless_bind_unix_socket': '(self)',
                 'SocketTestMixin.skip_unless_ipv6': '(self)',
                 'SocketTestMixin.start_server_process': '(self, argv, mode=, host=, family=, '
                                                         'env=, cwd=, timeout=)',
                 'SocketTestMixin.start_server_thread': '(self, server)',
                 'SocketTestMixin.unix_socket_path': '(self)',
                 'SocketTestMixin.wait_for_port': '(self, port, host=, timeout=)',
                 'TestFailed': 'class',
                 'WaitTimeoutError': 'class',
                 'bind_port': '(sock, host=)',
                 'bind_unix_socket': '(sock, addr)',
                 'can_bind_unix_socket': '()',
                 'create_unix_domain_name': '()',
                 'find_unused_port': '(family=, socktype=)',
                 'get_socket_conn_refused_errs': '()',
                 'has_gethostname': 'value',
                 'is_resource_enabled': '(resource)',
                 'release_port': '(port)',
                 'requires': '(resource, msg=)',
                 'reserve_port': '(family=, socktype=, host=)',
                 'reserved_port': '(family=, socktype=, host=)',
                 'skip_if_tcp_blackhole': '(test)',
                 'skip_unless_bind_unix_socket': '(test)',
                 'start_server_process': '(argv, mode=, host=, family=, env=, cwd=, timeout=, '
                                         'stop_timeout=)',
                 'tcp_blackhole': '()',
                 'transient_internet': '(resource_name, timeout=, errnos=)',
                 'wait_for_port': '(port, host=, timeout=)',
                 'wait_for_port_free': '(port, host=, timeout=)'},
 'testsupport.allocator': {'BACKEND_ENV_VAR': 'value',
                           'LEASE_ENV_VAR': 'value',
                           'NoFreePortError': 'class',
                           'PortRegistryWarning': 'class',
                           'RANGE_ENV_VAR': 'value',
                           'REGISTRY_ENV_VAR': 'value',
                           'STRATEGY_ENV_VAR': 'value',
                           'release_port': '(port)',
                           'reserve_port': '(family=, socktype=, host=)',
                           'reserved_port': '(family=, socktype=, host=)'},
 'testsupport.mixin': {'SocketTestMixin': 'class',
                       'SocketTestMixin.assertPortFree': '(self, port, host=, family=, '
                                                         'socktype=, msg=)',
                       'SocketTestMixin.assertPortInUse': '(self, port, host=, family=, '
                                                          'socktype=, msg=)',
                       'SocketTestMixin.bind_port': '(self, sock, host=)',
                       'SocketTestMixin.bind_unix_socket': '(self, sock, addr=)',
                       'SocketTestMixin.find_unused_port': '(self, family=, socktype=)',
                       'SocketTestMixin.make_listener': '(self, family=, host=, backlog=)',
                       'SocketTestMixin.make_socket': '(self, family=, type=, proto=)',
                       'SocketTestMixin.make_udp_socket': '(self, family=, host=)',
                       'SocketTestMixin.requires': '(self, resource, msg=)',
                       'SocketTestMixin.skip_unless_bind_unix_socket': '(self)',
                       'SocketTestMixin.skip_unless_ipv6': '(self)',
                       'SocketTestMixin.start_server_process': '(self, argv, mode=, host=, '
                                                               'family=, env=, cwd=, timeout=)',
                       'SocketTestMixin.start_server_thread': '(self, server)',
                       'SocketTestMixin.unix_socket_path': '(self)',
                       'SocketTestMixin.wait_for_port': '(self, port, host=, timeout=)'},
 'testsupport.pytest_plugin': {'pytest_addoption': '(parser)',
                               'pytest_configure': '(config)',
                               'pytest_runtest_makereport': '(item, call)',
                               'pytest_runtest_setup': '(item)',
                               'pytest_unconfigure': '(config)'},
 'testsupport.server_process': {'ServerProcess': 'class(self, argv, mode, host, port, '
                                                 'stop_timeout, platform)',
                                'ServerProcess.address': 'property',
                                'ServerProcess.pid': 'property',
                                'ServerProcess.returncode': 'property',
                                'ServerProcess.stderr': 'property',
                                'ServerProcess.stdout': 'property',
                                'ServerProcess.stop': '(self, timeout=)',
                                'ServerStartError': 'class',
                                'start_server_process': '(argv, mode=, host=, family=, env=, '
                                                        'cwd=, timeout=, stop_timeout=)'},
 'testsupport.servers': {'DEFAULT_POLL_INTERVAL': 'value',
                         'ServerStopError': 'class',
                         'ServerThread': 'class(self, server, poll_interval=)',
                         'ServerThread.start': '(self)',
                         'ServerThread.stop': '(self, timeout=)',
                         'WaitTimeoutError': 'class',
                         'make_listener': '(family=, host=, backlog=)',
                         'make_udp_socket': '(family=, host=)',
                         'make_unix_socket_dir': '()',
                         'port_in_use': '(port, host=, family=, socktype=)',
                         'remove_unix_socket_dir': '(directory)',
                         'start_server_thread': '(server, poll_interval=)',
                         'unix_socket_path': '()',
                         'wait_for_port': '(port, host=, timeout=)',
                         'wait_for_port_free': '(port, host=, timeout=)'},
 'testsupport.socket_helper': {'HOST': 'value',
                               'HOSTv4': 'value',
                               'HOSTv6': 'value',
                               'IPV6_ENABLED': 'value',
                               'bind_port': '(sock, host=)',
                               'bind_unix_socket': '(sock, addr)',
                               'can_bind_unix_socket': '()',
                               'create_unix_domain_name': '()',
                               'find_unused_port': '(family=, socktype=)',
                               'get_socket_conn_refused_errs': '()',
                               'has_gethostname': 'value',
                               'skip_if_tcp_blackhole': '(test)',
                               'skip_unless_bind_unix_socket': '(test)',
                               'tcp_blackhole': '()',
                               'transient_internet': '(resource_name, timeout=, errnos=)'},
 'testsupport.support': {'Error': 'class',
                         'INTERNET_TIMEOUT': 'value',
                         'LONG_TIMEOUT': 'value',
                         'LOOPBACK_TIMEOUT': 'value',
                         'RESOURCE_NAMES': 'value',
                         'ResourceDenied': 'class',
                         'SHORT_TIMEOUT': 'value',
                         'SOCK_MAX_SIZE': 'value',
                         'TestFailed': 'class',
                         'USE_ENV_VAR': 'value',
                         'is_resource_enabled': '(resource)',
                         'requires': '(resource, msg=)',
                         'use_resources': 'value',
                         'verbose': 'value'}}


# Every socket-helper name any CPython from 2.7 to 3.15 has had (3.6-3.8 keep
# them in test.support, 2.7 in test.test_support).
SOCKET_HELPER_NAMES = [
    'HOST', 'HOSTv4', 'HOSTv6', 'IPV6_ENABLED', 'bind_port', 'bind_unix_socket',
    'create_unix_domain_name', 'find_unused_port', 'get_socket_conn_refused_errs',
    'has_gethostname', 'skip_if_tcp_blackhole', 'skip_unless_bind_unix_socket',
    'tcp_blackhole', 'transient_internet',
]


def stdlib_socket_helper():
    """The interpreter's own socket helpers and their public names, or (None, []).

    Any failure to import counts as "absent", not only ImportError: PyPy's
    test.support, for one, raises FileNotFoundError (it looks for CPython's
    Modules/_testcapimodule.c).
    """
    for name in ('test.support.socket_helper',  # 3.9+
                 'test.support',  # 2.7.9+ and 3.x
                 'test.test_support'):  # older 2.7
        try:
            module = importlib.import_module(name)
        except Exception:
            continue
        if name == 'test.support.socket_helper':
            names = [item for item in dir(module) if not item.startswith('_')
                     and not isinstance(getattr(module, item), types.ModuleType)]
            return module, names
        return module, [item for item in SOCKET_HELPER_NAMES if hasattr(module, item)]
    return None, []


def argspec(func):
    """(positional names, names with defaults, keyword-only names) of *func*."""
    func = getattr(func, '__wrapped__', func)
    if hasattr(inspect, 'signature'):
        params = inspect.signature(func).parameters.values()
        positional = [p.name for p in params if p.kind == p.POSITIONAL_OR_KEYWORD]
        defaults = set(p.name for p in params if p.default is not p.empty)
        kwonly = [p.name for p in params if p.kind == p.KEYWORD_ONLY]
        return positional, defaults, kwonly
    spec = inspect.getargspec(func)
    defaults = set(spec.args[len(spec.args) - len(spec.defaults or ()):])
    return spec.args, defaults, []


PUBLIC_SURFACE['testsupport.platform_shim'] = {
    'FREEBSD': 'value',
    'LINUX': 'value',
    'MACOS': 'value',
    'Platform': 'class(self, **fields)',
    'Platform.conn_refused_errnos': '(self, ipv6_enabled)',
    'Platform.ephemeral_port_range': '(self, read_file=, run=)',
    'Platform.errno_of': '(self, exc)',
    'Platform.is_address_taken': '(self, exc)',
    'Platform.is_errno': '(self, exc, *names)',
    'Platform.is_family_mismatch': '(self, exc)',
    'Platform.is_fd_exhausted': '(self, exc)',
    'Platform.is_permission_error': '(self, exc)',
    'Platform.make_exclusive': '(self, sock)',
    'Platform.replace': '(self, **changes)',
    'Platform.reuse_options_set': '(self, sock)',
    'Platform.socket_type': '(self, sock)',
    'Platform.tcp_blackhole': '(self, run=)',
    'Platform.transient_errnos': '(self)',
    'Platform.transient_gai_errnos': '(self)',
    'WINDOWS': 'value',
    'current': '()',
    'detect': '(sys_platform, socket_module, errno_module=)',
}


def signature_text(func):
    """``(a, b=..., *args, **kwargs)`` of *func*, the same text on 2.7 and 3.x."""
    func = getattr(func, '__wrapped__', func)
    func = getattr(func, '__func__', func)  # 2.7's unbound methods
    if hasattr(inspect, 'signature'):
        parts = []
        for param in inspect.signature(func).parameters.values():
            if param.kind == param.VAR_POSITIONAL:
                parts.append('*' + param.name)
            elif param.kind == param.VAR_KEYWORD:
                parts.append('**' + param.name)
            else:
                parts.append(param.name + ('=' if param.default is not param.empty else ''))
        return '(%s)' % ', '.join(parts)
    if getattr(func, '__closure__', None):  # 2.7's contextmanager: no __wrapped__
        inner = [cell.cell_contents for cell in func.__closure__
                 if inspect.isfunction(cell.cell_contents)
                 and cell.cell_contents.__name__ == func.__name__]
        func = inner[0] if inner else func
    spec = inspect.getargspec(func)
    first_default = len(spec.args) - len(spec.defaults or ())
    parts = [name + ('=' if index >= first_default else '')
             for index, name in enumerate(spec.args)]
    if spec.varargs:
        parts.append('*' + spec.varargs)
    if spec.keywords:
        parts.append('**' + spec.keywords)
    return '(%s)' % ', '.join(parts)


def surface(module):
    """``{name: description}`` of *module*'s ``__all__``: signatures of functions, classes'
    constructors and public methods (``Class.method``), ``value`` for the rest."""
    found = {}
    for name in module.__all__:
        obj = getattr(module, name)
        if isinstance(obj, type):
            init = obj.__dict__.get('__init__')
            found[name] = 'class' + (signature_text(init) if inspect.isfunction(init) else '')
            for attr, value in sorted(vars(obj).items()):
                if attr.startswith('_'):
                    continue
                if isinstance(value, property):
                    found['%s.%s' % (name, attr)] = 'property'
                elif inspect.isfunction(value) or isinstance(value, (staticmethod, classmethod)):
                    value = getattr(obj, attr)
                    found['%s.%s' % (name, attr)] = signature_text(value)
        elif inspect.isfunction(obj) or hasattr(obj, '__wrapped__'):
            found[name] = signature_text(obj)
        else:
            found[name] = 'value'
    return found


class SurfaceTest(unittest.TestCase):
    """The public surface is exactly PUBLIC_SURFACE: names and signatures."""

    def test_public_surface_is_pinned(self):
        for name in sorted(PUBLIC_SURFACE):
            try:
                module = importlib.import_module(name)
            except ImportError:
                if name in OPTIONAL_MODULES:
                    continue
                raise
            self.assertEqual(surface(module), PUBLIC_SURFACE[name], name)

    def test_every_public_module_is_pinned(self):
        self.assertEqual(sorted(PUBLIC_SURFACE), sorted(set(PUBLIC_MODULES + OPTIONAL_MODULES)))


class AllTest(unittest.TestCase):

    def check_module(self, name):
        module = importlib.import_module(name)
        names = module.__all__
        self.assertEqual(names, sorted(names), '%s.__all__ is not sorted' % name)
        for item in names:
            self.assertIs(type(item), str, '%s.__all__ has %r, not a str' % (name, item))
            self.assertTrue(hasattr(module, item), '%s.__all__ names missing %r' % (name, item))
        namespace = {}
        exec('from %s import *' % name, namespace)
        self.assertEqual(set(namespace) - set(['__builtins__']), set(names))
        public = set(n for n, v in vars(module).items() if not n.startswith('_')
                     and not isinstance(v, types.ModuleType)
                     and getattr(v, '__module__', name) == name
                     and not (n.isupper() and n not in names))
        self.assertEqual(public - set(names), set(), '%s has public names not in __all__' % name)

    def test_public_modules(self):
        for name in PUBLIC_MODULES:
            self.check_module(name)

    def test_optional_modules_when_present(self):
        for name in OPTIONAL_MODULES:
            try:
                importlib.import_module(name)
            except ImportError:
                continue
            self.check_module(name)

    def test_top_level_surface_is_pinned(self):
        self.assertEqual(testsupport.__all__, [
            'HOST', 'HOSTv4', 'HOSTv6', 'INTERNET_TIMEOUT', 'IPV6_ENABLED', 'LONG_TIMEOUT',
            'LOOPBACK_TIMEOUT', 'NoFreePortError', 'PortRegistryWarning', 'ResourceDenied',
            'SHORT_TIMEOUT', 'SOCK_MAX_SIZE', 'ServerProcess', 'ServerStartError',
            'SocketTestMixin', 'TestFailed', 'WaitTimeoutError',
            'bind_port', 'bind_unix_socket', 'can_bind_unix_socket', 'create_unix_domain_name',
            'find_unused_port', 'get_socket_conn_refused_errs', 'has_gethostname',
            'is_resource_enabled', 'release_port', 'requires', 'reserve_port', 'reserved_port',
            'skip_if_tcp_blackhole', 'skip_unless_bind_unix_socket', 'start_server_process',
            'tcp_blackhole',
            'transient_internet', 'wait_for_port', 'wait_for_port_free'])

    def test_socket_helper_surface_is_cpython_3_13s_plus_one(self):
        self.assertEqual(sorted(set(socket_helper.__all__) - set(SOCKET_HELPER_NAMES)),
                         ['can_bind_unix_socket'])
        self.assertEqual(sorted(set(SOCKET_HELPER_NAMES) - set(socket_helper.__all__)), [])

    def test_top_level_serves_the_old_spelling(self):
        for name in ('HOST', 'HOSTv6', 'IPV6_ENABLED', 'bind_port', 'find_unused_port',
                     'transient_internet', 'TestFailed', 'ResourceDenied', 'requires'):
            self.assertIn(name, testsupport.__all__)

    def test_top_level_names_are_the_same_objects(self):
        for name in testsupport.__all__:
            obj = getattr(testsupport, name)
            for module_name in PUBLIC_MODULES[1:] + OPTIONAL_MODULES:
                module = sys.modules.get(module_name)
                if module is not None and name in getattr(module, '__all__', ()):
                    self.assertIs(getattr(module, name), obj, name)

    def test_version_is_a_plain_string(self):
        self.assertIs(type(testsupport.__version__), str)
        self.assertEqual(len(testsupport.__version__.split('.')), 3)


class StdlibSocketHelperLookupTest(unittest.TestCase):
    """stdlib_socket_helper() treats a test package that fails to import as absent."""

    def test_test_package_raising_oserror_counts_as_absent(self):
        # What PyPy's test.support does when CPython's C sources are missing.
        shadow = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, shadow)
        os.mkdir(os.path.join(shadow, 'test'))
        with open(os.path.join(shadow, 'test', '__init__.py'), 'w') as fp:
            fp.write('raise IOError(2, "No such file or directory", "_testcapimodule.c")\n')
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        code = ('from tests.test_api import stdlib_socket_helper\n'
                'print(stdlib_socket_helper())\n')
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([shadow, root]))
        proc = subprocess.Popen([sys.executable, '-c', code], cwd=shadow, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = proc.communicate()[0].decode('utf-8', 'replace')
        self.assertEqual(proc.returncode, 0, out)
        self.assertEqual(out.strip(), '(None, [])')


class StdlibParityTest(unittest.TestCase):
    """Every socket helper of this interpreter's test.support exists here, compatibly."""

    def setUp(self):
        self.stdlib, self.names = stdlib_socket_helper()
        if self.stdlib is None:
            self.skipTest("this interpreter ships without its test package")

    def test_every_stdlib_name_exists(self):
        self.assertTrue(self.names)
        missing = [n for n in self.names if not hasattr(socket_helper, n)]
        self.assertEqual(missing, [])

    def test_signatures_are_compatible(self):
        for name in self.names:
            theirs = getattr(self.stdlib, name)
            if not callable(theirs):
                continue
            ours = getattr(socket_helper, name)
            their_pos, their_defaults, their_kwonly = argspec(theirs)
            our_pos, our_defaults, our_kwonly = argspec(ours)
            self.assertEqual(our_pos[:len(their_pos)], their_pos, name)
            self.assertTrue(set(their_kwonly) <= set(our_pos + our_kwonly), name)
            self.assertTrue(their_defaults <= our_defaults, name)
            self.assertTrue(set(our_pos[len(their_pos):]) <= our_defaults, name)

    def test_values_agree(self):
        self.assertEqual(socket_helper.HOSTv6, self.stdlib.HOSTv6)
        self.assertEqual(socket_helper.IPV6_ENABLED, self.stdlib.IPV6_ENABLED)
        if hasattr(self.stdlib, 'get_socket_conn_refused_errs'):
            self.assertEqual(sorted(socket_helper.get_socket_conn_refused_errs()),
                             sorted(self.stdlib.get_socket_conn_refused_errs()))
        if hasattr(self.stdlib, 'tcp_blackhole'):
            self.assertEqual(socket_helper.tcp_blackhole(), self.stdlib.tcp_blackhole())


class NoTestPackageImportTest(unittest.TestCase):
    """The package never imports CPython's ``test`` package, which projects shadow."""

    def test_importing_everything_with_a_shadowing_test_package(self):
        shadow = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, shadow)
        os.mkdir(os.path.join(shadow, 'test'))
        with open(os.path.join(shadow, 'test', '__init__.py'), 'w') as fp:
            fp.write('raise ImportError("the project\'s own test package was imported")\n')
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        code = ('import sys\n'
                'import testsupport, testsupport._cli\n'
                'for name in %r:\n'
                '    try:\n'
                '        __import__(name)\n'
                '    except ImportError as exc:\n'
                '        if "test package" in str(exc): raise\n'
                'testsupport.find_unused_port()\n'
                'assert "test" not in sys.modules, sorted(sys.modules)\n'
                'print("ok")\n' % (PUBLIC_MODULES + OPTIONAL_MODULES,))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([shadow, root]))
        proc = subprocess.Popen([sys.executable, '-c', code], cwd=shadow, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = proc.communicate()[0].decode('utf-8', 'replace')
        self.assertEqual(proc.returncode, 0, out)
        self.assertEqual(out.strip(), 'ok')
