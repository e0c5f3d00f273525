"""The catalog's pages in the member portal."""
