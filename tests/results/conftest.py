"""Tables are drawn at $COLUMNS when it is set (render/rich_tables.py): tests that do not set it
themselves must not depend on the terminal they are run from (session scope, so that
module-scoped fixtures which run the CLI see it unset too)."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _no_columns():
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("COLUMNS", raising=False)
        yield
