"""`python -m semdepth_training train ...`: the `semdepth` command line as a module, the form
`torchrun --nproc_per_node N -m semdepth_training train ...` launches (docs/training.md)."""
import sys

from semdepth_ros.cli.main import main

sys.exit(main())
