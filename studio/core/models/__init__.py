"""Model folders: which loader understands a folder, the limits on what it may ask, the check that it loads."""
