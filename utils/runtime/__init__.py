"""What every trained model of the course runs on: the model cache, the device, scoped state.

Chapter 4. ``cached_run`` is the one way the course trains and caches a model
(``Run``, ``TrainingRecord``); ``get_device`` picks the device once, and
``get_precision`` the output layer's arithmetic (float32 unless asked otherwise);
``local_seed``, ``eval_mode`` and ``num_threads`` change a setting for one block
and put it back; ``parallel_map`` and ``train_side_by_side`` train independent
small runs side by side, one process per core. Layer: the bottom but for
``params``; imports no other part of ``utils``, and every other package may use it.
"""

from __future__ import annotations

from utils.runtime.cache import (  # noqa: F401
    FORMAT_VERSION,
    cache_dir,
    config_key,
)
from utils.runtime.device import (  # noqa: F401
    get_device,
)
from utils.runtime.parallel import (  # noqa: F401
    parallel_map,
    train_side_by_side,
    worker_count,
)
from utils.runtime.precision import (  # noqa: F401
    get_precision,
)
from utils.runtime.run import (  # noqa: F401
    Run,
    RunConfig,
    TrainingRecord,
    cached_run,
    config_columns,
    is_cached,
    thin,
)
from utils.runtime.scoped import (  # noqa: F401
    eval_mode,
    local_seed,
    num_threads,
    one_cpu_thread,
)

__all__ = [
    "FORMAT_VERSION",
    "Run",
    "RunConfig",
    "TrainingRecord",
    "cache_dir",
    "cached_run",
    "config_columns",
    "config_key",
    "eval_mode",
    "get_device",
    "get_precision",
    "is_cached",
    "local_seed",
    "num_threads",
    "one_cpu_thread",
    "parallel_map",
    "thin",
    "train_side_by_side",
    "worker_count",
]
