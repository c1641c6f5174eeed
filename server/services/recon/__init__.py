"""The reconciliation with the centre (ST-07): daily and monthly 3201 per clearing group, 3202 on 不平, the
administrator's acknowledgments, the 2601 repair, and what keeps a month from closing (`blockers.month_blockers`)."""
