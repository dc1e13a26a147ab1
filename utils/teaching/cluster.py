"""Grading on a Dask cluster that is not an open door: TLS, mutual authentication, no route back.

Explained in the instructor's guide. `grade_on_cluster` refuses a scheduler
address that is not ``tls://`` and a `distributed.security.Security` that does
not require encryption with a client certificate, so neither the submissions
nor the grades cross the network in the clear and no one without the course's
certificate can join as a client or a worker. Every task is the grader's own
function (`utils.teaching.grade._grade_or_missing`); on the worker it starts
each sandbox in a new network namespace, so student code has no route to the
scheduler, the other workers or anything else. A worker that cannot isolate
(neither root nor user namespaces) returns "crashed" rows that say so, and
grades nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["InsecureCluster", "check_security", "grade_on_cluster"]


class InsecureCluster(ValueError):
    """The scheduler address or security settings would let strangers in."""


def check_security(scheduler: str, security: Any) -> None:
    """Raise `InsecureCluster` unless the link is TLS with a client certificate."""
    if not scheduler.startswith("tls://"):
        raise InsecureCluster(f"{scheduler!r}: the grader only talks to a tls:// scheduler "
                              "(start it with --tls-ca-file, --tls-cert and --tls-key)")
    if security is None or not getattr(security, "require_encryption", False):
        raise InsecureCluster("give a distributed.security.Security with "
                              "require_encryption=True")
    if not (security.tls_ca_file and security.tls_client_cert):
        raise InsecureCluster("the Security needs the course's CA file and a client certificate "
                              "(mutual TLS), so that only the grader can connect")


def grade_on_cluster(task: Callable[..., list], args: Sequence[tuple], scheduler: str,
                     security: Any) -> list[list]:
    """Run ``task(*a)`` for every ``a`` on the cluster; results in the order of ``args``."""
    from distributed import Client

    check_security(scheduler, security)
    with Client(scheduler, security=security) as client:
        futures = [client.submit(task, *a, pure=False) for a in args]
        return client.gather(futures)
