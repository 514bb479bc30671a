"""Tests for testsupport.support: resources, exceptions and constants."""
from __future__ import absolute_import, division, print_function

import unittest

from testsupport import support
from testsupport.support import ResourceDenied, TestFailed, is_resource_enabled, requires
from tests.helpers import set_env


class EnvMixin(object):

    def set_use(self, value):
        set_env(self, support.USE_ENV_VAR, value)


class IsResourceEnabledTest(EnvMixin, unittest.TestCase):

    def test_nothing_enabled_by_default(self):
        self.set_use(None)
        self.assertFalse(is_resource_enabled('network'))

    def test_listed_resources_enabled(self):
        self.set_use('network, urlfetch')
        self.assertTrue(is_resource_enabled('network'))
        self.assertTrue(is_resource_enabled('urlfetch'))
        self.assertFalse(is_resource_enabled('cpu'))

    def test_all_minus_one(self):
        self.set_use('all,-cpu')
        self.assertTrue(is_resource_enabled('network'))
        self.assertFalse(is_resource_enabled('cpu'))

    def test_none_resets_and_later_items_win(self):
        self.set_use('network,none,cpu,-cpu,cpu')
        self.assertFalse(is_resource_enabled('network'))
        self.assertTrue(is_resource_enabled('cpu'))

    def test_case_insensitive(self):
        self.set_use('ALL')
        self.assertTrue(is_resource_enabled('gui'))

    def test_module_attribute_wins_over_environment(self):
        self.set_use('all')
        self.addCleanup(setattr, support, 'use_resources', support.use_resources)
        support.use_resources = ['network']
        self.assertTrue(is_resource_enabled('network'))
        self.assertFalse(is_resource_enabled('cpu'))
        support.use_resources = ['all']
        self.assertTrue(is_resource_enabled('cpu'))


class RequiresTest(EnvMixin, unittest.TestCase):

    def test_disabled_resource_raises_resource_denied_with_how_to(self):
        self.set_use(None)
        with self.assertRaises(ResourceDenied) as cm:
            requires('network')
        self.assertEqual(str(cm.exception),
                         "Use of the 'network' resource not enabled; set TESTSUPPORT_USE=network "
                         "(or pass --use=network to pytest) to run this test")

    def test_hint_keeps_resources_already_enabled(self):
        self.set_use('urlfetch')
        with self.assertRaises(ResourceDenied) as cm:
            requires('network')
        self.assertEqual(str(cm.exception),
                         "Use of the 'network' resource not enabled; add it to TESTSUPPORT_USE "
                         "(now 'urlfetch'), e.g. TESTSUPPORT_USE=urlfetch,network, or pass "
                         "--use=urlfetch,network to pytest to run this test")

    def test_hint_names_the_module_attribute_when_set(self):
        self.set_use(None)
        self.addCleanup(setattr, support, 'use_resources', support.use_resources)
        support.use_resources = ['cpu']
        with self.assertRaises(ResourceDenied) as cm:
            requires('network')
        self.assertIn("add it to testsupport.support.use_resources (now ['cpu'])",
                      str(cm.exception))

    def test_custom_message(self):
        self.set_use(None)
        with self.assertRaises(ResourceDenied) as cm:
            requires('network', 'needs the net')
        self.assertEqual(str(cm.exception), 'needs the net')

    def test_enabled_resource_returns_none(self):
        self.set_use('network')
        self.assertIsNone(requires('network'))

    def test_denied_is_a_skip_in_unittest(self):
        self.set_use(None)

        class Case(unittest.TestCase):
            def test_it(self):
                requires('network')
        result = unittest.TestResult()
        Case('test_it').run(result)
        self.assertEqual(len(result.skipped), 1)
        self.assertEqual(result.failures + result.errors, [])


class ExceptionsAndConstantsTest(unittest.TestCase):

    def test_hierarchy(self):
        self.assertTrue(issubclass(ResourceDenied, unittest.SkipTest))
        self.assertTrue(issubclass(TestFailed, support.Error))
        self.assertTrue(issubclass(support.Error, Exception))

    def test_timeouts_are_cpython_3_13s(self):
        self.assertEqual((support.LOOPBACK_TIMEOUT, support.INTERNET_TIMEOUT,
                          support.SHORT_TIMEOUT, support.LONG_TIMEOUT), (10.0, 60.0, 30.0, 300.0))
        self.assertEqual(support.SOCK_MAX_SIZE, 16 * 1024 * 1024 + 1)
