"""API fuzz run (issue 23): schemathesis against the workspace's OpenAPI schema, with a valid
API token, bounded examples; no request may get a server error (5xx)."""

import tempfile

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from graphchurn.app.web.auth import add_user, new_token
from graphchurn.app.web.workspace import Settings, create_workspace

_data = tempfile.mkdtemp(prefix="graphchurn-fuzz-")
app = create_workspace(Settings(_data, max_upload_bytes=2**20, workers=1))
with app.state.sessionmaker() as _s:
    _user = add_user(_s, "fuzzer", "fuzz password", admin=True)
    TOKEN = new_token(_s, _user)
HEADERS = {"Authorization": f"Bearer {TOKEN}"}

schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers=HEADERS)


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_error(case):
    case.call_and_validate(headers=HEADERS, checks=[not_a_server_error])
