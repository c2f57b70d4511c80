"""Task suites that train with the core optimizers through MMEngine."""
