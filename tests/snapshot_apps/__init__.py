"""Fixed secure repos and app factories for the TUI tests and their snapshots."""
