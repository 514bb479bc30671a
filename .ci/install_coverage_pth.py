"""Make every Python process of this environment start coverage measurement.

Writes ``testsupport_coverage.pth`` into the running interpreter's
site-packages. At start-up it calls ``coverage.process_startup()``, which
measures the process only when ``COVERAGE_PROCESS_START`` names a config file
(tox.ini sets it), so the subprocesses the tests start (``python -m pytest``,
``python -m testsupport``, allocator workers) leave .coverage.* files too.
Works with coverage 5.x (2.7), 6.x (3.6) and 7.x.
"""
from __future__ import absolute_import, division, print_function

import os
import sysconfig

PTH_NAME = 'testsupport_coverage.pth'
PTH_LINE = 'import coverage; coverage.process_startup()\n'


def main():
    site_packages = sysconfig.get_paths()['purelib']
    path = os.path.join(site_packages, PTH_NAME)
    with open(path, 'w') as pth:
        pth.write(PTH_LINE)
    print('wrote {0}'.format(path))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
