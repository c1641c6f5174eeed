"""Paying with the 医保 card: identify the insured person (1101), show the split (2101), settle (2102)
with the sale's completion, resolve an uncertain settlement (2601), cancel a settled one (2103).

The flow, in one place (DESIGN: "a card sale, end to end"):
  1. `identify`: card / e-voucher / typed ID number → 1101 → a snapshot on the sale (SaleInsured).
  2. `split_of`: each line card-eligible or self-pay with the rule that says so (CARD-02, CARD-07, RX-02).
  3. `preview`: 2101 for the eligible lines → fund, personal account, cash; nothing is recorded.
  4. `settle`: the checks (AGR-01, CARD-06, sign-in, RX-03/RX-11, the lines forced onto the card), then
     the msgid is committed as an intent with the sale marked "settling"; 2102 leaves; the answer is
     recorded with the sale's completion (stock, number, tenders, audit) in one transaction. A refusal
     puts the sale back to open; a timeout or lost answer leaves it "settlement uncertain" until 2601
     takes it back — at once if the centre answers, else by `resolve` or `recover` (at start-up).
No centre call happens inside a database transaction: each step reads (read_unit) or writes (core_unit)
before and after its call, with prepared statements as the cash payment does; the ORM only for the
reference rows that need it (a prescription, a user's PIN) and to word a refusal.

In this package: identify.py (1), plan.py (2, 3), settle.py (4 and resolving), cancel.py (2103); below them
counter.py (the till, the store's standing and the operator every step checks) and rows.py (sale_insured
and card_settlement, written there only)."""
