"""The named datasets: their format, files, checksums, mirrors and class names.

Each named dataset is declared here once; adding one in a format imgbench
already reads is one entry in :data:`CATALOG` (plus any aliases).

``sha256`` is the checksum of the file as published (what a download is
checked against).  ``content_sha256`` is the checksum of the decompressed IDX
content, which ``imgbench data verify`` uses: it holds for recompressed
copies too (e.g. a Debian package or a mirror that re-gzipped the files).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RemoteFile:
    """One file of a named dataset."""

    name: str
    sha256: str
    content_sha256: str | None = None


@dataclass(frozen=True)
class DatasetInfo:
    """What imgbench knows about a named dataset before loading it.

    ``format`` is the key of its entry in :data:`imgbench.data.formats.FORMATS`
    (how its files are found and read); ``split_sizes`` are the train and test
    counts of the canonical release, which ``imgbench data verify`` checks.
    """

    name: str
    title: str
    image_shape: tuple[int, int, int]
    class_names: tuple[str, ...]
    files: tuple[RemoteFile, ...] = ()
    mirrors: tuple[str, ...] = ()
    archive: RemoteFile | None = None  # downloaded then unpacked (CIFAR-10)
    description: str = ""
    format: str = "idx"
    split_sizes: tuple[int, int] | None = None


DIGIT_NAMES = tuple(str(d) for d in range(10))

# The four files of MNIST and of every dataset published in its layout (Fashion-MNIST).
IDX_FILE_NAMES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def idx_files(sha256: tuple[str, str, str, str], content_sha256: tuple[str, str, str, str]) -> tuple[RemoteFile, ...]:
    """The files of a dataset in the MNIST layout, with their published and content checksums."""
    return tuple(RemoteFile(*f) for f in zip(IDX_FILE_NAMES, sha256, content_sha256, strict=True))


MNIST = DatasetInfo(
    name="mnist",
    title="MNIST handwritten digits",
    image_shape=(1, 28, 28),
    class_names=DIGIT_NAMES,
    files=idx_files(
        (
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        ),
        (
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        ),
    ),
    # The original host sometimes answers 403 to scripts; the mirrors serve
    # byte-identical files, so the same checksums apply.
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    description="70,000 grey 28x28 digits (60,000 train / 10,000 test).",
    split_sizes=(60000, 10000),
)

FASHION_MNIST = DatasetInfo(
    name="fashion-mnist",
    title="Fashion-MNIST (Zalando article images)",
    image_shape=(1, 28, 28),
    class_names=(
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    files=idx_files(
        (
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        ),
        (
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        ),
    ),
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    description="70,000 grey 28x28 clothing images in 10 classes.",
    split_sizes=(60000, 10000),
)

CIFAR10 = DatasetInfo(
    name="cifar10",
    title="CIFAR-10",
    image_shape=(3, 32, 32),
    class_names=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    archive=RemoteFile("cifar-10-python.tar.gz", "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"),
    mirrors=("https://www.cs.toronto.edu/~kriz/",),
    description="60,000 colour 32x32 images in 10 classes (50,000 train / 10,000 test).",
    format="cifar",
    split_sizes=(50000, 10000),
)

DIGITS = DatasetInfo(
    name="digits",
    title="scikit-learn digits (embedded)",
    image_shape=(1, 8, 8),
    class_names=DIGIT_NAMES,
    description="1,797 grey 8x8 digits bundled with scikit-learn: works offline, trains in seconds.",
    format="embedded",
)

CATALOG: dict[str, DatasetInfo] = {d.name: d for d in (MNIST, FASHION_MNIST, CIFAR10, DIGITS)}
ALIASES = {"fashion_mnist": "fashion-mnist", "fashionmnist": "fashion-mnist", "cifar-10": "cifar10", "cifar": "cifar10"}
