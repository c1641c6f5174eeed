"""The card reader's settings ([devices] in config.toml): validated at start-up, then the driver chosen."""

from __future__ import annotations

from pathlib import Path

import pytest

from devices.card.factory import card_reader_for
from devices.card.pcsc import PcscCardReader
from devices.card.sdk import SdkCardReader
from devices.card.simulated import SimulatedCardReader
from server.config import ROOT, ConfigError, Settings, load_settings

BASE = (ROOT / "config.toml").read_text(encoding="utf-8")
SHIPPED = 'card_reader = "simulated"'


def _load(tmp_path: Path, *replacements: tuple[str, str]) -> Settings:
    text = BASE
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path)


def test_the_shipped_config_runs_the_simulated_reader() -> None:
    settings = load_settings(ROOT / "config.toml")
    assert isinstance(card_reader_for(settings.devices), SimulatedCardReader)
    assert settings.devices.card_sdk_init == "{}" and settings.devices.card_sdk_encoding == "gbk"


def test_pcsc_with_a_reader_name(tmp_path: Path) -> None:
    settings = _load(tmp_path, (SHIPPED, 'card_reader = "pcsc"'),
                     ('card_reader_name = ""', 'card_reader_name = "ACS ACR39U"'))
    reader = card_reader_for(settings.devices)
    assert isinstance(reader, PcscCardReader) and reader.reader_name == "ACS ACR39U"


def test_sdk_with_its_library_and_init_json(tmp_path: Path) -> None:
    init = '{"IP":"10.1.2.3","PORT":7020,"TIMEOUT":6,"LOG_PATH":"var/log"}'
    settings = _load(tmp_path, (SHIPPED, 'card_reader = "sdk"'),
                     ('card_sdk_library = ""', 'card_sdk_library = "/opt/heasec/libHeaSecReadInfo.so"'),
                     ('card_sdk_init = "{}"', f"card_sdk_init = '{init}'"))
    reader = card_reader_for(settings.devices)
    assert isinstance(reader, SdkCardReader)
    assert (reader.library, reader.init_json, reader.encoding) == ("/opt/heasec/libHeaSecReadInfo.so", init, "gbk")


def test_sdk_without_a_library_is_refused_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        _load(tmp_path, (SHIPPED, 'card_reader = "sdk"'))
    assert "card_sdk_library" in str(exc.value) and "devices" in str(exc.value)


@pytest.mark.parametrize(("value", "problem"), [("'{\"IP\": '", "not valid JSON"), ("'[1, 2]'", "JSON object")])
def test_an_init_json_that_is_not_a_json_object_is_named(tmp_path: Path, value: str, problem: str) -> None:
    with pytest.raises(ConfigError) as exc:
        _load(tmp_path, ('card_sdk_init = "{}"', f"card_sdk_init = {value}"))
    assert "devices.card_sdk_init" in str(exc.value) and problem in str(exc.value)


def test_an_unknown_driver_or_encoding_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        _load(tmp_path, (SHIPPED, 'card_reader = "usb"'))
    assert "devices.card_reader" in str(exc.value)
    with pytest.raises(ConfigError) as enc:
        _load(tmp_path, ('card_sdk_encoding = "gbk"', 'card_sdk_encoding = "latin-1"'))
    assert "devices.card_sdk_encoding" in str(enc.value)
