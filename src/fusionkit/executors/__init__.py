"""Built-in executors (``runtime.executor``): where a run's tasks execute."""
