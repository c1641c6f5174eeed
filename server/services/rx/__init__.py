"""The prescription wing: the registry, entry, review and the slip."""
