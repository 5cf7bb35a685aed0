"""The user service: accounts, credentials and tokens (PostgreSQL)."""
