"""The Keras 3 engine (TensorFlow is imported only when this engine is used)."""
