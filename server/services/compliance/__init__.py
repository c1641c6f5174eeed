"""The compliance wing (issue #22): the store manager's checklist over every other wing's records — the top of the
wings, since it reads what the money, reconciliation, inspection and store wings keep."""
