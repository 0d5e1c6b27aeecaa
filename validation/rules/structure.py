"""structure rules (placeholder)."""
