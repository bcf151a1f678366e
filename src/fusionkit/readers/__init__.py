"""Built-in reader plugins: tables, genotypes and images."""
