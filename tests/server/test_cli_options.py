"""Repeated `N<sep>text` options on the command line (count variances, transfer lines held): read, or refused by shape."""

from __future__ import annotations

import pytest
import typer

from server.cli_care import keyed


def test_numbered_reasons_are_read_and_a_wrong_shape_exits_2_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert keyed(["3=破损", "12=盘亏:找不到"], "=", "BATCH_ID=原因") == {3: "破损", 12: "盘亏:找不到"}
    assert keyed(None, ":", "LINE:REASON") == {}
    with pytest.raises(typer.Exit) as bad:
        keyed(["x:待验"], ":", "行号:原因 / LINE:REASON")
    assert bad.value.exit_code == 2 and "LINE:REASON expected" in capsys.readouterr().err
