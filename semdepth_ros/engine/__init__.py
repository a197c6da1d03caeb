"""The inference engine behind `semdepth_ros.predictor.Predictor`: which network runs (PyTorch eager or as a
CUDA graph, ONNX Runtime) and the device-side stages (resize, depth, points, cloud packing in torch)."""
