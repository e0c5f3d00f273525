"""Marketplace channels, accounts, listings, sync jobs and orders arrive with the sync issue."""
