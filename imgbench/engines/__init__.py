"""Engines build a model from a spec behind one adapter protocol.

``numpy`` (from scratch), ``torch`` and ``keras``.  Engines never import each
other; torch and TensorFlow are imported only when their engine is used.
"""
