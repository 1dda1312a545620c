"""The order-book encoder: windows of the book on the decision clock, labels from each
sample's future, a multi-task model (signal, volatility, regime) and its training.

:func:`train_encoder` runs the whole flow (what ``lobzero train-encoder`` calls);
:func:`load_encoder` reads the checkpoint back as a :class:`TrainedEncoder`.
"""

from lobzero.encoder.config import EncoderConfig
from lobzero.encoder.dataset import EncoderData, build_dataset, build_new_data
from lobzero.encoder.labels import REGIME_CLASSES, SIGNAL_CLASSES
from lobzero.encoder.run import EncoderRun, train_encoder
from lobzero.encoder.samples import CHANNELS, book_samples
from lobzero.encoder.train import TrainedEncoder, load_encoder

__all__ = [
    "CHANNELS",
    "REGIME_CLASSES",
    "SIGNAL_CLASSES",
    "EncoderConfig",
    "EncoderData",
    "EncoderRun",
    "TrainedEncoder",
    "book_samples",
    "build_dataset",
    "build_new_data",
    "load_encoder",
    "train_encoder",
]
