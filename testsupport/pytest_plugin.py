"""pytest plugin for testsupport (registered through the ``pytest11`` entry point).

The only module of testsupport that imports pytest.
"""
from __future__ import absolute_import, division, print_function
