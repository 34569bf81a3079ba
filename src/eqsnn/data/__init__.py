"""Datasets and mini-batches.

Datasets load once into NumPy arrays ([`eqsnn.data.fashion_mnist`][],
[`eqsnn.data.mnist`][], [`eqsnn.data.read_idx`][]); batching and shuffling
happen on device ([`eqsnn.data.batches`][], [`eqsnn.data.epoch_indices`][]).
Event data sets ([`eqsnn.data.shd`][], [`eqsnn.data.ssc`][],
[`eqsnn.data.nmnist`][]) load once into padded [`eqsnn.data.Events`][] and
are binned on device ([`eqsnn.data.bin_events`][]) or fed event by event
([`eqsnn.data.EventSequence`][]). Spike encoders live in `eqsnn.encoding`.
"""

from ._batches import batches as batches, epoch_indices as epoch_indices
from ._datasets import (
    DATA_ENV as DATA_ENV,
    DownloadError as DownloadError,
    cache_dir as cache_dir,
    fashion_mnist as fashion_mnist,
    mnist as mnist,
)
from ._events import (
    Events as Events,
    EventSequence as EventSequence,
    bin_events as bin_events,
    from_tonic as from_tonic,
    pad_events as pad_events,
    to_tonic as to_tonic,
)
from ._fetch import EventFileError as EventFileError
from ._idx import IDXError as IDXError, read_idx as read_idx
from ._nmnist import nmnist as nmnist, parse_nmnist as parse_nmnist, read_nmnist_split as read_nmnist_split
from ._rows import scatter_rows as scatter_rows
from ._shd import read_hdf5_events as read_hdf5_events, shd as shd, ssc as ssc
