"""The catalog wing: items, zones, the import, search."""
