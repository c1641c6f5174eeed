"""`dingdian pos` is a command of the store's command line and refuses a bad config like the others; `dingdian office`
serves it in its back-office-only mode and refuses a place it cannot listen at (tests/pos/test_office_browser.py
drives it through a browser)."""

from __future__ import annotations

import shlex
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from server.cli import app
from server.cli_office import app_command
from server.config import ROOT, ConfigError, load_settings


def test_pos_is_a_command() -> None:
    result = CliRunner().invoke(app, ["pos", "--help"])
    assert result.exit_code == 0
    assert "--config" in result.output


def test_pos_with_a_missing_config_stops_with_the_file_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    result = CliRunner().invoke(app, ["pos", "--config", str(missing)])
    assert result.exit_code == 2
    assert "nope.toml" in result.output


def test_office_serves_the_till_s_back_office_alone_with_the_same_config(tmp_path: Path) -> None:
    config = tmp_path / "store.toml"
    command = shlex.split(app_command(config))
    assert command[-4:] == ["pos", "--office", "--config", str(config.resolve())]
    assert "--office" in CliRunner().invoke(app, ["pos", "--help"]).output


def test_office_refuses_a_port_in_use_and_every_interface_without_its_public_address() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["office", "--port", str(port)])
    assert result.exit_code == 2 and "端口被占用" in result.output and f"127.0.0.1:{port}" in result.output
    result = CliRunner().invoke(app, ["office", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "public_url" in result.output
    with pytest.raises(ConfigError, match="public_url"):  # nor set so in config.toml
        load_settings(ROOT / "config.toml", office={"host": "0.0.0.0"})
    assert load_settings(ROOT / "config.toml", office={"host": "0.0.0.0", "public_url": "http://192.168.1.20:8610"}
                         ).office.url == "http://192.168.1.20:8610"
