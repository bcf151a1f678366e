"""Planning, running and reporting experiments."""
