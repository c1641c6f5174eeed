"""The sale wing: the basket, completion, returns, trace codes."""
