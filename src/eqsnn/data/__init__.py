"""Datasets and mini-batches.

Datasets load once into NumPy arrays ([`eqsnn.data.fashion_mnist`][],
[`eqsnn.data.mnist`][], [`eqsnn.data.read_idx`][]); batching and shuffling
happen on device ([`eqsnn.data.batches`][], [`eqsnn.data.epoch_indices`][]).
Spike encoders live in `eqsnn.encoding`.
"""

from ._batches import batches as batches, epoch_indices as epoch_indices
from ._datasets import (
    DATA_ENV as DATA_ENV,
    DownloadError as DownloadError,
    cache_dir as cache_dir,
    fashion_mnist as fashion_mnist,
    mnist as mnist,
)
from ._idx import IDXError as IDXError, read_idx as read_idx
