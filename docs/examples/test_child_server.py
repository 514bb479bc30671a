import contextlib
import sys

try:
    from urllib.request import urlopen
except ImportError:  # Python 2.7
    from urllib2 import urlopen

HTTP_SERVER = 'http.server' if sys.version_info[0] >= 3 else 'SimpleHTTPServer'


def test_static_files(start_server_process, tmp_path):
    (tmp_path / 'hello.txt').write_text(u'hello\n')
    server = start_server_process([sys.executable, '-m', HTTP_SERVER, '0'],
                                  mode='discover', cwd=str(tmp_path))
    url = 'http://%s:%d/hello.txt' % server.address
    with contextlib.closing(urlopen(url, timeout=10)) as response:
        assert response.read() == b'hello\n'
