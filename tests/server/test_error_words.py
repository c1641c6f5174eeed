"""Field names in a 422's Chinese message: list indexes counted from one, anything else left as sent."""

from __future__ import annotations

from server.api.errors import field_zh


def test_list_indexes_read_as_ordinals_and_odd_digits_do_not_crash() -> None:
    assert field_zh("tenders.0.amount_fen") == "支付方式第1项的金额"
    # a reasons map keyed by a superscript digit (the fuzzer sent one): a name, not an index
    assert field_zh("reasons.¹") == "reasons的¹"
    assert field_zh("reasons.٣") == "reasons的٣"
