"""The store wing: the store, its tills and agreement, users, shifts and duty."""
