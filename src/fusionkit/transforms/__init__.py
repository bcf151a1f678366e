"""Built-in image transform plugins (preprocessing such as contrast enhancement)."""
