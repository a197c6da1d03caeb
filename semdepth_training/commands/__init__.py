"""`semdepth` sub-commands of the training package (see docs/interfaces.md for the name map)."""
