"""nnlib."""
