"""The layering, read from the source (every import, also inside functions): only `semdepth_ros/ros/`
talks to ROS 2, the runtime never reaches into training, training never into the node, no import cycles."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("semdepth_ros", "semdepth_synth", "semdepth_training")
# rclpy and the packages only a ROS 2 install (or the ROS wheels) provides.
ROS = ("rclpy", "rcl_interfaces", "builtin_interfaces", "std_msgs", "sensor_msgs", "geometry_msgs",
       "diagnostic_msgs", "tf2_msgs", "rosidl_runtime_py", "launch", "launch_ros", "ament_index_python")


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for package in PACKAGES for path in sorted((REPO / package).rglob("*.py"))}


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported(module: str) -> set[str]:
    """What ``module`` imports at run time: the most specific module each import statement names."""
    tree = ast.parse(MODULES[module].read_text())
    skipped = {id(child) for node in ast.walk(tree) if isinstance(node, ast.If) and _type_checking(node)
               for stmt in node.body for child in ast.walk(stmt)}
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                package = module if MODULES[module].name == "__init__.py" else module.rsplit(".", 1)[0]
                package = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1])
                base = f"{package}.{base}" if base else package
            for alias in node.names:
                names.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return names


IMPORTS = {module: imported(module) for module in MODULES}


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_the_scan_sees_the_tree() -> None:
    assert "semdepth_ros.ros.depth_node" in MODULES and "semdepth_training.trainer" in MODULES
    assert "rclpy" in IMPORTS["semdepth_ros.ros.depth_node"]
    assert "semdepth_ros.codec" in IMPORTS["semdepth_ros.ros.depth_node"]          # `from pkg import module`
    assert "semdepth_training.config" not in IMPORTS["semdepth_training.datasets.registry"]  # TYPE_CHECKING only


def test_only_the_ros_package_imports_ros() -> None:
    offenders = {module: sorted(name for name in names if any(_within(name, ros) for ros in ROS))
                 for module, names in IMPORTS.items() if not _within(module, "semdepth_ros.ros")}
    assert {m: n for m, n in offenders.items() if n} == {}


@pytest.mark.parametrize("importer, forbidden", [
    ("semdepth_ros", "semdepth_training"),        # the runtime installs and runs without the training stack
    ("semdepth_synth", "semdepth_training"),
    ("semdepth_training", "semdepth_ros.ros"),     # training needs numpy code only, never the node
    ("semdepth_synth", "semdepth_ros.ros"),
])
def test_layers(importer: str, forbidden: str) -> None:
    offenders = {module: sorted(name for name in names if _within(name, forbidden))
                 for module, names in IMPORTS.items() if _within(module, importer)}
    assert {m: n for m, n in offenders.items() if n} == {}


def test_the_runtime_names_no_training_module() -> None:
    """Not even as a string for a lazy import: training's `semdepth` sub-commands come as entry points."""
    module_path = re.compile(r"semdepth_training(\.\w+)+(:\w+)?")
    named = {module: sorted(node.value for node in ast.walk(ast.parse(MODULES[module].read_text()))
                            if isinstance(node, ast.Constant) and isinstance(node.value, str)
                            and module_path.fullmatch(node.value.strip()))
             for module in MODULES if _within(module, "semdepth_ros")}
    assert {m: n for m, n in named.items() if n} == {}


def test_training_commands_come_as_entry_points() -> None:
    """Every training sub-command module is declared in setup.py's `semdepth.commands` group, and the CLI
    offers the runtime's commands plus those."""
    from semdepth_ros.cli.main import RUNTIME_COMMANDS, checkout_entry_points, commands

    declared = checkout_entry_points(REPO / "setup.py")
    assert set(declared.values()) == {m for m in MODULES if m.startswith("semdepth_training.commands.")}
    assert commands() == {**RUNTIME_COMMANDS, **declared}


def test_no_import_cycles() -> None:
    graph = {module: {name for name in names if name in MODULES and name != module}
             for module, names in IMPORTS.items()}
    state: dict[str, int] = {}     # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for child in sorted(graph[module]):
            if state.get(child) == 1:
                return path[path.index(child):] + [child]
            if child not in state and (cycle := visit(child)):
                return cycle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            assert (cycle := visit(module)) is None, " -> ".join(cycle)
