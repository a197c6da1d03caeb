"""`semdepth`: one entry point; each sub-command lives in its own module, imported on use.

The runtime's own sub-commands are listed here. Other packages contribute theirs as entry points in
the group `semdepth.commands` (the training package does so in setup.py), so the runtime names none
of them. Lazy import keeps `semdepth predict` free of the training stack and makes a broken optional
dependency fail only the sub-command that needs it; help texts are the modules' docstrings, read
without importing them.
"""
from __future__ import annotations

import argparse
import ast
import importlib
import importlib.metadata
import importlib.util
import os
import sys
from pathlib import Path
from typing import Sequence

RUNTIME_COMMANDS: dict[str, str] = {
    "predict": "semdepth_ros.cli.predict",
    "bench": "semdepth_ros.cli.bench",
    "demo": "semdepth_ros.demo.demo_cmd",
    "kitti2bag": "semdepth_ros.bag.kitti2bag_cmd",
    "eval-bag": "semdepth_ros.bag.eval_bag_cmd",
}
ENTRY_POINT_GROUP = "semdepth.commands"
CHECKOUT_SETUP = Path(__file__).resolve().parents[2] / "setup.py"


def commands() -> dict[str, str]:
    """Sub-command name -> module: the runtime's, then the installed entry points, then (running from
    a source checkout) the entry points its setup.py declares, which an older editable install's
    metadata may lack."""
    found = dict(RUNTIME_COMMANDS)
    found.update((ep.name, ep.value) for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    found.update(checkout_entry_points(CHECKOUT_SETUP))
    return found


def checkout_entry_points(setup: Path) -> dict[str, str]:
    """The `semdepth.commands` entry points written in a setup.py (read, not run); {} without one."""
    if not setup.is_file():
        return {}
    for node in ast.walk(ast.parse(setup.read_text())):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value == ENTRY_POINT_GROUP:
                    specs = [item.split("=") for item in ast.literal_eval(value)]
                    return {name.strip(): module.strip() for name, module in specs}
    return {}


def summary(module: str) -> str:
    """First line of a module's docstring, the sub-command's help (the module is not imported)."""
    try:
        spec = importlib.util.find_spec(module)
    except ImportError:
        spec = None
    if spec is None or not spec.origin:
        return f"(unavailable: {module} is not installed)"
    doc = ast.get_docstring(ast.parse(Path(spec.origin).read_text())) or ""
    return doc.splitlines()[0].rstrip(".") if doc else ""


class VersionAction(argparse.Action):
    """--version: this package, torch and whether it sees CUDA (torch is imported only when asked)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="print the versions of semdepth_ros and torch, and whether CUDA is usable", **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        print(version_text())
        parser.exit()


def version_text() -> str:
    import torch

    from semdepth_ros import __version__

    cuda = (f"CUDA {torch.version.cuda}, {torch.cuda.device_count()} GPU(s): {torch.cuda.get_device_name(0)}"
            if torch.cuda.is_available() else
            f"no usable CUDA ({'CPU-only build' if torch.version.cuda is None else 'no GPU visible'})")
    return f"semdepth_ros {__version__} (torch {torch.__version__}, {cuda})"


def build_parser(available: dict[str, str], command: str | None = None) -> argparse.ArgumentParser:
    """The top parser; only the chosen sub-command's module is imported to add its options."""
    parser = argparse.ArgumentParser(prog="semdepth", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action=VersionAction)
    subs = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in available.items():
        text = summary(module)
        sub = subs.add_parser(name, help=text, description=text)
        if name == command:
            importlib.import_module(module).add_arguments(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    available = commands()
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in available:
        command = None
    args = build_parser(available, command).parse_args(argv)
    if args.command is None:
        build_parser(available).print_help()
        return 2
    module = importlib.import_module(available[args.command])
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError, RuntimeError) as exc:
        # User-facing errors (bad paths, bad files, bad options) are one line; SEMDEPTH_DEBUG=1 shows
        # the traceback for bug reports.
        if os.environ.get("SEMDEPTH_DEBUG"):
            raise
        print(f"semdepth {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
