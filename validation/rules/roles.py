"""roles rules (placeholder)."""
