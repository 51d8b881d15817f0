"""pytest settings for every test and notebook (loaded before ``tests/`` and ``notebooks/``).

``make test`` runs two pytest workers side by side (pytest-xdist ``-n 2``): each gets its share
of the cores, and everything it starts inherits the limit through the environment (torch and
TensorFlow in the worker, the notebooks' kernels), so two workers on two cores use two threads,
not four that take turns.
"""

import os

# Idle OpenMP threads sleep instead of spinning: on a busy machine spinning threads slowed small
# models 10-100x. Must be set before torch is imported (kernels inherit it).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
if _workers > 1:
    _threads = str(max(1, (os.cpu_count() or 1) // _workers))
    for _name in ("AIGC_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
        os.environ.setdefault(_name, _threads)
