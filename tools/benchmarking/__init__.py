"""Cost and accuracy comparisons of the optimizers: measurement, tables, plots (tools' layer)."""
