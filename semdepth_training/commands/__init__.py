"""`semdepth` sub-commands of the training package, offered to the CLI as `semdepth.commands` entry points (setup.py)."""
