"""The catalog service: categories and products (PostgreSQL, Redis cache)."""
