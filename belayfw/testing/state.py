"""Where the plugin keeps its state: ``config.stash`` and each test item's stash."""

from __future__ import annotations

import pytest

from belayfw.testing.boards import BoardPlugin, TestBoards

#: The process's :class:`BoardPlugin`, from ``pytest_configure`` to ``pytest_unconfigure``.
PLUGIN_KEY = pytest.StashKey[BoardPlugin]()
#: The boards one test used, for its report.
TEST_BOARDS_KEY = pytest.StashKey[TestBoards]()


def get_plugin(config: pytest.Config) -> BoardPlugin:
    """The running plugin; a clear error when it was turned off or already unconfigured."""
    plugin = config.stash.get(PLUGIN_KEY, None)
    if plugin is None:
        raise pytest.UsageError("the belayfw pytest plugin is not active (-p no:belayfw?)")
    return plugin


def test_boards(item: pytest.Item) -> TestBoards:
    """The record of boards ``item`` used, created on first use."""
    boards = item.stash.get(TEST_BOARDS_KEY, None)
    if boards is None:
        boards = item.stash[TEST_BOARDS_KEY] = TestBoards()
    return boards
