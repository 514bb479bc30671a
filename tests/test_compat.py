"""Tests for testsupport._compat: popen_new_session, its one difference with behaviour."""
from __future__ import absolute_import, division, print_function

import os
import subprocess
import sys
import unittest

from testsupport import _compat

#: Prints whether the child leads a session of its own, then writes "kept" to
#: the descriptor named in argv[1] (if any).
_CHILD = '''
import os, sys
sys.stdout.write(repr(os.getsid(0) == os.getpid()))
sys.stdout.flush()
if len(sys.argv) > 1:
    os.write(int(sys.argv[1]), b'kept')
'''


@unittest.skipUnless(hasattr(os, 'getsid') and hasattr(os, 'pipe'), 'POSIX sessions')
class PopenNewSessionTest(unittest.TestCase):

    def run_child(self, args=(), **kwargs):
        child = _compat.popen_new_session([sys.executable, '-c', _CHILD] + list(args),
                                          stdout=subprocess.PIPE, **kwargs)
        out, _ = child.communicate()
        self.assertEqual(child.returncode, 0)
        return out.decode('ascii')

    def test_child_leads_a_new_session(self):
        self.assertEqual(self.run_child(), 'True')

    def test_without_a_new_session_the_child_stays_in_ours(self):
        self.assertEqual(self.run_child(new_session=False), 'False')

    def test_kept_descriptor_is_open_in_the_child(self):
        read_end, write_end = os.pipe()
        self.addCleanup(os.close, read_end)
        try:
            self.assertEqual(self.run_child([str(write_end)], keep_fds=[write_end]), 'True')
        finally:
            os.close(write_end)
        self.assertEqual(os.read(read_end, 16), b'kept')


if __name__ == '__main__':
    unittest.main()
