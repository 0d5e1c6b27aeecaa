"""dags rules (placeholder)."""
