"""The store manager's compliance checklist (rules.md, CHECK 1–26): each item evaluated from the data for a period,
with a verdict (合格 / 不合格 / 需人工确认), its evidence and its rule IDs — never a silent 合格 where data is missing.

- `verdict`: the shapes (Verdict, Finding, Countdown, Checklist).
- `items`: each item as a pure function over plain facts.
- `run`: reads the facts through reports.queries in one read-only snapshot and evaluates every item.
"""
