"""Prescriptions: the institutions' registry, entering (or importing) a prescription, the pharmacist's
review, tying a sale to it, and the check completion makes (RX-01, RX-04, RX-10).

Entry refuses a prescription that is malformed, expired, post-dated or split (RX-02, RX-07) — nothing
is stored. Review is a pharmacist's, qualified today (STAFF-01) and on duty in an open shift (RX-10);
approving an over-limit prescription is refused (RX-06: it goes back to the prescriber, RX-05).
Nothing here deletes a prescription or a review (RX-08).

In this package: registry.py (institutions, doctors), entry.py (paper and electronic, attachments, reading),
review.py (the pharmacist), dispensing.py (the tie to a sale, what the completion checks), slip.py (the 处方审核单).
"""
