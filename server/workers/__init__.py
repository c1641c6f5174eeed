"""Background senders: what leaves the process after a commit (intent first, DESIGN) — the print queue's
worker (printing.py), the recovery of what a crash left uncertain at start-up (recovery.py), and next the
upload outbox's sender."""
