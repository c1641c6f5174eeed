"""The insurance wing: the operator's sign-in with the centre."""
