"""The one PyTorch training loop every deep component uses."""
