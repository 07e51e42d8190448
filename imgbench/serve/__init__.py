"""``imgbench serve``: a web page and a JSON API over trained runs (FastAPI, uvicorn; the ``serve`` extra).

Predict from a drawing or a photo, look inside the network layer by layer, compare two runs on the same
input, browse results and study reports.  :func:`~imgbench.serve.app.create_app` builds the app.
"""
