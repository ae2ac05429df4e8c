from __future__ import annotations

import pytest

from fixtures_api import app, client  # noqa: F401 - fixtures
from media.clips import ClipLibrary


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> ClipLibrary:
    return ClipLibrary(tmp_path_factory.mktemp("e2e-clips"))
