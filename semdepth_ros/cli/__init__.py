"""The `semdepth` command line (one entry point, one module per sub-command)."""
