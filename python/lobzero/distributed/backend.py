"""Where independent jobs run: in this process (``local``) or as Ray tasks (``ray``).

A backend maps a function over jobs and returns the results in the jobs' order, whatever order
they finished in; so a caller that pools the results (``compare``, ``robustness``) writes the
same report on either backend for the same seeds. The arguments every job shares (a market, a
configuration) are given once as ``shared``: Ray puts them in its object store once instead of
pickling them with each task.

``ray.init()`` starts a local cluster when no address is given (``--ray-address`` otherwise:
``auto`` for the cluster this machine belongs to, or ``ray://host:10001``). Each Ray task holds
one CPU of the cluster and runs torch on that one thread, as Ray sets it, so a local job and a
Ray job of the same seed compute the same floats only when the local one is also single-threaded
(:func:`pin_threads`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from lobzero.exceptions import ConfigError

BACKENDS = ("local", "ray")


def ray_available() -> bool:
    """Whether ``ray`` imports (the ``ray`` extra: ``pip install lobzero[ray]``)."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def pin_threads() -> None:
    """One torch thread (what a Ray task of one CPU gets), so a job's floats do not depend on
    the machine's core count or on the backend that ran it."""
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)


class Backend(Protocol):
    """Runs ``fn(*job, **shared)`` for every job; results in the order of ``jobs``."""

    name: str

    def map(
        self,
        fn: Callable[..., Any],
        jobs: Sequence[tuple[Any, ...]],
        shared: dict[str, Any] | None = None,
        on_done: Callable[[int, Any], None] | None = None,
    ) -> list[Any]:
        """``[fn(*job, **shared) for job in jobs]``, wherever they ran; ``on_done(index,
        result)`` as each ends."""
        ...


class LocalBackend:
    """The jobs one after the other in this process; ``on_done(index, result)`` after each."""

    name = "local"

    def map(
        self,
        fn: Callable[..., Any],
        jobs: Sequence[tuple[Any, ...]],
        shared: dict[str, Any] | None = None,
        on_done: Callable[[int, Any], None] | None = None,
    ) -> list[Any]:
        """The jobs in order, here; ``on_done(index, result)`` after each."""
        out = []
        for index, job in enumerate(jobs):
            out.append(fn(*job, **(shared or {})))
            if on_done is not None:
                on_done(index, out[-1])
        return out


def _call(fn: Callable[..., Any], shared: dict[str, Any], *job: Any) -> Any:
    """The body of a Ray task: one thread of torch, then the job."""
    pin_threads()
    return fn(*job, **shared)


class RayBackend:
    """The jobs as Ray tasks of ``num_cpus`` CPUs each, on the cluster at ``address`` (None: a
    local cluster started here, of ``local_cpus`` CPUs, None: all)."""

    name = "ray"

    def __init__(
        self, address: str | None = None, num_cpus: float = 1.0, local_cpus: int | None = None
    ) -> None:
        ray = require_ray()
        if not ray.is_initialized():
            kw: dict[str, Any] = {"address": address, "include_dashboard": False}
            if address is None and local_cpus is not None:
                kw["num_cpus"] = local_cpus
            ray.init(**kw, log_to_driver=False)
        self.num_cpus = float(num_cpus)

    def map(
        self,
        fn: Callable[..., Any],
        jobs: Sequence[tuple[Any, ...]],
        shared: dict[str, Any] | None = None,
        on_done: Callable[[int, Any], None] | None = None,
    ) -> list[Any]:
        """The jobs as Ray tasks (``shared`` put in the object store once); results in the
        jobs' order, ``on_done(index, result)`` in the order they finish."""
        import ray

        task = ray.remote(num_cpus=self.num_cpus, max_retries=0)(_call)
        shared_ref = ray.put(shared or {})
        refs = [task.remote(fn, shared_ref, *job) for job in jobs]
        index_of = {ref: i for i, ref in enumerate(refs)}
        results: list[Any] = [None] * len(refs)
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                i = index_of[ref]
                results[i] = ray.get(ref)
                if on_done is not None:
                    on_done(i, results[i])
        return results


def require_ray() -> Any:
    """The ``ray`` module, or a :class:`ConfigError` saying how to install it."""
    try:
        import ray
    except ImportError as e:
        raise ConfigError(
            f"--backend ray needs ray ({e}); install the extra: pip install 'lobzero[ray]'"
        ) from e
    return ray


def make_backend(name: str = "local", address: str | None = None) -> Backend:
    """The backend called ``name`` (:data:`BACKENDS`); ``address``: the Ray cluster's (ray only;
    None starts a local cluster)."""
    if name not in BACKENDS:
        raise ConfigError(f"--backend must be one of {', '.join(BACKENDS)}, got {name!r}")
    if name == "local":
        if address is not None:
            raise ConfigError("--ray-address is for --backend ray")
        return LocalBackend()
    return RayBackend(address)
