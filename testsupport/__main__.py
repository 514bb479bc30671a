"""``python -m testsupport``: see :mod:`testsupport._cli`."""
from __future__ import absolute_import, division, print_function

import sys

from testsupport._cli import main

if __name__ == '__main__':
    sys.exit(main(prog='python -m testsupport'))
