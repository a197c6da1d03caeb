"""Fine-tuning a node checkpoint on a robot's own rosbag recording (`semdepth adapt`)."""
