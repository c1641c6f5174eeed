"""Which line a scanned 药品追溯码 goes to at the till (the service still decides whether it may be sold)."""

from __future__ import annotations

from pos.screens.sale import is_trace_code, trace_target


def line(n: int, qty: int, traced: bool, codes: int = 0, split: bool = False) -> dict:
    return {"id": n, "qty": qty, "split": split, "traced": traced, "trace_codes": ["8" * 20] * codes}


def test_a_trace_code_goes_to_the_selected_line_or_the_last_that_still_needs_one() -> None:
    a, b, c = line(1, 2, True, codes=1), line(2, 1, False), line(3, 1, True, codes=1)
    sale = {"lines": [a, b, c]}
    assert trace_target(sale, c) is a  # c has its code: the last line still short of one
    assert trace_target(sale, a) is a
    assert trace_target(sale, b) is a  # an untraced line takes no code
    split = line(4, 6, True, codes=0, split=True)
    assert trace_target({"lines": [a, split]}, None) is split  # a split line needs its box's one code
    assert trace_target({"lines": [line(5, 1, True, codes=1)]}, None) is None
    assert trace_target(None, None) is None


def test_only_twenty_digits_from_8_are_trace_codes() -> None:
    assert is_trace_code("81234567890123456789")
    assert not is_trace_code("6901234567892") and not is_trace_code("71234567890123456789")
