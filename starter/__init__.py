"""Entry points that start workflows: the `billflow` command line."""
