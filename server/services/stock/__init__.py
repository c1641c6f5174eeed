"""The stock wing: the ledger (the one movement writer, the sellable predicate), batches, suppliers."""
