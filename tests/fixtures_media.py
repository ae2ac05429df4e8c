"""Media fixtures: `clips`, the test clips, generated once per session for every directory."""

from __future__ import annotations

import pytest

from media.clips import ClipLibrary


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> ClipLibrary:
    """Generates each test clip once per session; ``clips.get(SPEC)`` returns a ``Clip``."""
    return ClipLibrary(tmp_path_factory.mktemp("clips"))
