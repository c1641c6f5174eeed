"""Settings: one typed object; a missing or malformed key stops start-up naming key, file and expectation."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from server.config import ROOT, ConfigError, load_settings

BASE = (ROOT / "config.toml").read_text(encoding="utf-8")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_config_loads() -> None:
    s = load_settings(ROOT / "config.toml")
    assert s.store.fixmedins_code == "P44030000001" and s.store.admdvs == "440300"
    assert s.database.url.startswith("sqlite:///")
    assert s.service.host == "127.0.0.1"
    assert s.rules.interim_payment_ratio == Decimal("0.90")  # never a float
    assert s.rules.retention_years == 2 and s.rules.prescriber_profile == "A"


def test_a_missing_key_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE.replace('fixmedins_code = "P44030000001"', ""))
    with pytest.raises(ConfigError) as exc:
        load_settings(path)
    assert "store.fixmedins_code" in str(exc.value) and str(path) in str(exc.value) and "缺少" in str(exc.value)


@pytest.mark.refuses("ST-04")
def test_the_report_deadline_has_no_default(tmp_path: Path) -> None:
    """ST-04: the seeds set no deadline, so the store must set it."""
    path = _write(tmp_path, BASE.replace("report_deadline_day = 10", ""))
    with pytest.raises(ConfigError) as exc:
        load_settings(path)
    assert "rules.report_deadline_day" in str(exc.value)


@pytest.mark.refuses("RX-08")
@pytest.mark.parametrize(("old", "new", "key"), [
    ('admdvs = "440300"', 'admdvs = "44030"', "store.admdvs"),
    ('fixmedins_code = "P44030000001"', 'fixmedins_code = "p4403"', "store.fixmedins_code"),
    ('timezone = "Asia/Shanghai"', 'timezone = "Mars/Olympus"', "store.timezone"),
    ("port = 8600", 'port = "eighty"', "service.port"),
    ('prescriber_profile = "A"', 'prescriber_profile = "C"', "rules.prescriber_profile"),
    ("retention_years = 2", "retention_years = 1", "rules.retention_years"),
    ('url = "sqlite:///var/dingdian.db"', 'url = "mysql://x"', "database.url"),
])
def test_a_malformed_value_is_named(tmp_path: Path, old: str, new: str, key: str) -> None:
    assert old in BASE
    with pytest.raises(ConfigError) as exc:
        load_settings(_write(tmp_path, BASE.replace(old, new)))
    assert key in str(exc.value)


def test_an_unknown_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(_write(tmp_path, BASE.replace("[till]", "[till]\ncolour = \"blue\"")))
    assert "till.colour" in str(exc.value)


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE + "\n[store\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(path)
    assert str(path) in str(exc.value) and "TOML" in str(exc.value)


def test_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DINGDIAN_DATABASE__URL", "postgresql+psycopg://pos@127.0.0.1/pos")
    monkeypatch.setenv("DINGDIAN_TILL__CODE", "T09")
    s = load_settings(ROOT / "config.toml")
    assert s.database.url == "postgresql+psycopg://pos@127.0.0.1/pos" and s.till.code == "T09"


def test_a_bad_environment_value_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DINGDIAN_SERVICE__PORT", "-1")
    with pytest.raises(ConfigError) as exc:
        load_settings(ROOT / "config.toml")
    assert "service.port" in str(exc.value)


def test_the_service_does_not_start_half_configured(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE.replace('admdvs = "440300"', 'admdvs = "x"'))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DINGDIAN_")}
    done = subprocess.run([sys.executable, "-m", "server.cli", "serve", "--config", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 2
    assert "store.admdvs" in done.stderr and str(path) in done.stderr


def test_a_printer_per_till(tmp_path: Path) -> None:
    text = BASE + '\n[printers.T02]\nprinter = "network"\nprinter_host = "192.168.1.52"\nprinter_columns = 32\n'
    s = load_settings(_write(tmp_path, text))
    assert s.printing_tills() == ["T01", "T02"]
    t02, t01 = s.till_devices("T02"), s.till_devices("T01")
    assert (t02.printer, t02.printer_host, t02.printer_port, t02.printer_columns) == ("network", "192.168.1.52", 9100, 32)
    assert t01 == s.devices and t01.printer == "simulated"  # the service's own till: [devices]
    with pytest.raises(ConfigError) as exc:  # a till's printer is checked as [devices]' is
        load_settings(_write(tmp_path, BASE + '\n[printers.T03]\nprinter = "serial"\n'))
    assert "printers.T03" in str(exc.value) and "printer_serial_port" in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        load_settings(_write(tmp_path, BASE + '\n[printers.T03]\nprinter_colour = "red"\n'))
    assert "printers.T03.printer_colour" in str(exc.value)


def test_the_rest_generation_goes_with_the_national_variant_and_the_sandbox_app(tmp_path: Path) -> None:
    """[eprx] generation "rest" has no 7206 (Shenzhen's write-off): refused at start; its defaults are the sandbox's
    demo app, so a new store's demo speaks to the sandbox's REST centre as shipped."""
    from server.insurance.sandbox.eprx_rest import APPS

    shenzhen = BASE.replace('variant = "national"', 'variant = "shenzhen"').replace('generation = "7xxx"',
                                                                                  'generation = "rest"')
    with pytest.raises(ConfigError) as exc:
        load_settings(_write(tmp_path, shenzhen))
    assert "eprx" in str(exc.value) and "national" in str(exc.value)
    rx = load_settings(_write(tmp_path, BASE.replace('generation = "7xxx"', 'generation = "rest"'))).eprx
    assert rx.generation == "rest" and APPS[rx.app_id] == (rx.app_secret, rx.public_key)
