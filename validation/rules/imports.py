"""imports rules (placeholder)."""
