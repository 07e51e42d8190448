"""The from-scratch NumPy engine: layers, loss, optimisers and a model built from a spec."""

from .conv import AvgPool2D, Conv2D, GlobalAvgPool2D, MaxPool2D, col2im, im2col
from .layers import Dense, Dropout, Flatten, Layer, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .losses import SoftmaxCrossEntropy, log_softmax
from .model import NumpyModel, Residual, Sequential
from .norm import BatchNorm
from .optim import OPTIMIZERS, SGD, Adam, AdamW
from .teaching import conv2d, max_pool2d

__all__ = [
    "Adam",
    "AdamW",
    "AvgPool2D",
    "BatchNorm",
    "Conv2D",
    "Dense",
    "Dropout",
    "Flatten",
    "GlobalAvgPool2D",
    "Layer",
    "LeakyReLU",
    "MaxPool2D",
    "NumpyModel",
    "OPTIMIZERS",
    "ReLU",
    "Residual",
    "SGD",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "SoftmaxCrossEntropy",
    "Tanh",
    "col2im",
    "conv2d",
    "im2col",
    "log_softmax",
    "max_pool2d",
]
