"""`dingdian pos` is a command of the store's command line and refuses a bad config like the others."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from server.cli import app


def test_pos_is_a_command() -> None:
    result = CliRunner().invoke(app, ["pos", "--help"])
    assert result.exit_code == 0
    assert "--config" in result.output


def test_pos_with_a_missing_config_stops_with_the_file_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    result = CliRunner().invoke(app, ["pos", "--config", str(missing)])
    assert result.exit_code == 2
    assert "nope.toml" in result.output
