"""The card wing: paying with the 医保 card (1101, 2101, 2102, 2601, 2103)."""
