import pytest

from slapd_server import SlapdServer


@pytest.fixture
def slapd(tmp_path):
    server = SlapdServer(tmp_path / "slapd").start()
    yield server
    server.stop()
