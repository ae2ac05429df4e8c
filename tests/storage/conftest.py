from fixtures_api import app, client  # noqa: F401 - fixtures shared with the other API tests
