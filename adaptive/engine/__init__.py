"""The pyo backend: the only place that builds audio objects."""
