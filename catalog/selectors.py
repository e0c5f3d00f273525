"""Reads of the catalog, with their joins."""
