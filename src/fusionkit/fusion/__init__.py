"""Built-in fusion strategy plugins: feature-level, decision-level and deep concatenation."""
