"""The inspection export (ST-08): every record of a period in one archive with a manifest, and its check."""
