"""Options of single commands (``--workers``, ``--format``, ``--port``, ...), defined once; not recorded with a run.

Like the run settings in :mod:`imgbench.settings`, each is a :class:`~imgbench.kinds.Setting`, and the command
line derives its flag, type, choices and help from it (:func:`imgbench.cli.common.add_setting`).
"""

from __future__ import annotations

from .kinds import Choice, Integer, ListOf, Number, Setting, Text
from .settings import _registry

SPEEDRUN_PRECISIONS = ("auto", "fp32", "bf16")  # imgbench speedrun's arithmetic

COMMAND_OPTIONS: dict[str, Setting] = {
    "workers": Setting(Integer(1), 1, "train in N worker processes", metavar="N"),
    # compare and tune: where the runs train (imgbench/studies/executors.py)
    "executor": Setting(
        Choice(_registry(".studies.executors", "EXECUTORS")),
        "local",
        "where the runs train: local (this machine; --workers N processes) or ray (Ray tasks, each with the "
        "cluster's CPUs shared --workers ways, and a GPU for a torch run on CUDA; the output folder must be "
        "on a file system every node shares; pip install 'imgbench[ray]')",
    ),
    "ray_address": Setting(
        Text(optional=True),
        None,
        "with --executor ray: the address of an existing Ray cluster (default: start a local Ray with this "
        "machine's CPUs)",
        metavar="ADDR",
    ),
    "top_k": Setting(Integer(1), 3, "how many labels to show"),
    "csv": Setting(
        Text(optional=True),
        None,
        "predict the rows of this Kaggle CSV (label column optional, as in Digit Recognizer's test.csv)",
        metavar="FILE",
    ),
    "count": Setting(Integer(1), 24, "images per gallery"),
    "samples": Setting(Integer(1), 2000, "stratified subset size"),
    "stride": Setting(Integer(1), 1, "stride of the convolution"),
    "padding": Setting(Integer(0), 0, "zero padding on every side of the image"),
    "format": Setting(Choice(_registry(".export.formats", "FORMATS")), "onnx", "the file format of the export"),
    "quantize": Setting(
        Choice(_registry(".export.formats", "QUANTIZE")),
        "none",
        "store the weights as float16 or int8 (dynamic range); the accuracy is measured and recorded",
    ),
    "out": Setting(
        Text(optional=True),
        None,
        "the exported file (default RUN_DIR/export/model[-QUANTIZE].onnx|.tflite)",
        metavar="FILE",
    ),
    "report_format": Setting(
        ListOf(Choice(_registry(".studies.documents", "REPORT_FORMATS"))),
        ["html", "md"],
        "the report's formats, comma-separated",
        metavar="FORMAT[,FORMAT]",
        show_default=False,
    ),
    # imgbench tune
    "trials": Setting(
        Integer(1), 20, "end the search once N trials have finished (complete or pruned), earlier ones too", metavar="N"
    ),
    "timeout": Setting(
        Number(0, open_lo=True, optional=True),
        None,
        "start no new trial after this many seconds (running trials finish)",
        metavar="SECONDS",
    ),
    "final_seeds": Setting(
        Integer(1), 3, "train the best settings with N fresh seeds, each evaluated once on the test split", metavar="N"
    ),
    "storage": Setting(
        Text(optional=True),
        None,
        "keep the trials in this database (an SQLAlchemy URL, e.g. sqlite:///tune.db) instead of OUT/journal.log",
        metavar="URL",
    ),
    # imgbench speedrun: the recipe's knobs that are flags (the rest: SpeedrunRecipe in engines/torch/speedrun.py)
    "speedrun_epochs": Setting(
        Number(0, open_lo=True), 24, "epochs of the recipe (a fraction ends within an epoch)", metavar="N"
    ),
    "tta_level": Setting(
        Integer(0, 2), 2, "test-time augmentation: 0 none, 1 the mirror too, 2 also one-pixel shifts of both"
    ),
    "speedrun_precision": Setting(
        Choice(lambda: SPEEDRUN_PRECISIONS),
        "auto",
        "auto: bf16 autocast on CUDA and where the CPU has AVX-512 BF16 or AMX, else fp32",
        show_default=False,
    ),
    # imgbench serve
    "host": Setting(
        Text(), "127.0.0.1", "the address to listen on (any but 127.0.0.1 lets other machines in)", metavar="ADDR"
    ),
    "port": Setting(Integer(0, 65535), 8000, "the TCP port to listen on", metavar="PORT"),
    "studies": Setting(
        Text(optional=True), None, "also serve the study reports in this folder ('compare' outputs)", metavar="DIR"
    ),
    "max_upload_mb": Setting(
        Number(0, open_lo=True), 10.0, "refuse request bodies larger than this (answered 413)", metavar="MB"
    ),
    "request_timeout": Setting(
        Number(0, open_lo=True), 30.0, "answer every request within this many seconds", metavar="SECONDS"
    ),
}
