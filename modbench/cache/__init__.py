"""The run cache: one directory per run, keyed by the hash of its resolved configuration."""
