"""Built-in classifier plugins (scikit-learn API) and the preprocessing they share."""
