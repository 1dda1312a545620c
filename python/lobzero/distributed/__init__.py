"""Beyond one machine: independent jobs as Ray tasks (:mod:`.backend`), MuZero self-play as Ray
actors (:mod:`.self_play`), hyper-parameter tuning with Optuna (:mod:`.tune`). Ray and Optuna
are extras (``pip install 'lobzero[ray]'``, ``'lobzero[tune]'``), imported only when used."""

from lobzero.distributed.backend import (
    BACKENDS,
    Backend,
    LocalBackend,
    RayBackend,
    make_backend,
    ray_available,
)

__all__ = ["BACKENDS", "Backend", "LocalBackend", "RayBackend", "make_backend", "ray_available"]
