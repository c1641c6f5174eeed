"""The store manager's compliance checklist (rules.md, CHECK 1–26): each item evaluated from the data for a period,
with a verdict (合格 / 不合格 / 需人工确认), its evidence and its rule IDs — never a silent 合格 where data is missing.

- `verdict`: the shapes (Verdict, Finding, Countdown, Checklist).
- `items`: each item as a pure function over plain facts.
- `fund_use`: CHECK 17, the self-inspection of fund use — the agency's own analyses, each a pure function whose
  findings name the sales.
- `settled`: CHECK 19, 21 (the card's settled lines, line by line) and 24 (every item's zone, check_placement).
- `run`: reads the facts through reports.queries in one read-only snapshot and evaluates every item.
"""
