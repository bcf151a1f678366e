"""Built-in dataset plugins and the cache their files are generated into."""
