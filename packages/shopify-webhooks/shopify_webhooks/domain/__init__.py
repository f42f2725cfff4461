"""The receiver's rules: signatures, topics and resource ids, privacy requests (no I/O)."""
