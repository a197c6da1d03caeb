"""ament_python packaging: works with `colcon build` in a ROS 2 workspace and with `pip install`."""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "semdepth_ros"

ROS_WHEELS = [  # PyPI builds of ROS 2 Jazzy for machines without a ROS install
    "ros-jazzy-rclpy[fastrtps]", "ros-jazzy-sensor-msgs", "ros-jazzy-std-msgs",
    "ros-jazzy-geometry-msgs", "ros-jazzy-diagnostic-msgs",
]

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    package_data={PACKAGE: ["data/*.pt", "data/*.md"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.xml") + glob("config/*.rviz")),
        (f"share/{PACKAGE}/config/train", glob("config/train/*.yaml")),
    ],
    python_requires=">=3.10",
    # torch is a floor, not a pin: an installed CPU or CUDA build that satisfies it is kept as is.
    install_requires=[
        "torch>=2.1", "numpy>=1.24", "opencv-python-headless>=4.8,<5", "pyyaml", "tqdm",
        "rosbags>=0.10", "matplotlib",
    ],
    extras_require={
        "ros": ROS_WHEELS,
        "train": ["tensorboard"],
        "export": ["onnx", "onnxruntime"],
        "openvino": ["onnx", "openvino"],
        "test": ["pytest", "colcon-common-extensions"],
        "all": ROS_WHEELS + ["tensorboard", "onnx", "onnxruntime", "openvino", "pytest", "colcon-common-extensions"],
    },
    zip_safe=True,
    maintainer="semdepth_ros maintainers",
    maintainer_email="maintainers@semdepth-ros.invalid",
    description="Monocular depth, semantic mask and point cloud for ROS 2",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "semdepth = semdepth_ros.cli.main:main",
            "depth_node = semdepth_ros.ros.depth_node:main",
        ],
        # `semdepth` sub-commands contributed by the training package (the runtime names none of them).
        "semdepth.commands": [
            "synth = semdepth_training.commands.synth",
            "train = semdepth_training.commands.train",
            "pretrain = semdepth_training.commands.pretrain",
            "evaluate = semdepth_training.commands.evaluate",
            "export = semdepth_training.commands.export",
            "pseudo-labels = semdepth_training.commands.pseudo_labels",
            "adapt = semdepth_training.commands.adapt",
        ],
    },
)
