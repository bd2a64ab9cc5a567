"""Several clusters in one run: `--context a,b,c` and `--all-contexts` (capacity and report).

The names are resolved against the kubeconfig files merged by kubectl's rules (kubeconfig.py:
the first file to define a context wins), so `--all-contexts` lists what `kubectl config
get-contexts` lists, in the order the files define them. Each cluster is read on its own
thread, at most BOUND at a time; one that cannot be read is an Unreachable with the reason,
never an abort of the others."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from .api import Connection

T = TypeVar("T")

BOUND = 4  # clusters read at once: each read already overlaps its own pages, and 2-core laptops run this too
EXIT_SOME_UNREACHABLE = 4  # documented in capacity's and report's --help: some context could not be read


def context_list(text: str) -> tuple[str, ...]:
    """--context: one name, or several separated by commas (repeats read once)."""
    return tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))


def resolve_contexts(conn: Connection, names: Sequence[str]) -> tuple[str, ...]:
    """The contexts a run reads: `names` checked against the merged kubeconfig, or for ("*",)
    (--all-contexts) each context it defines. Raises KubeconfigError (one line) for an unknown name."""
    from .kubeconfig import KubeconfigError, kubeconfig_paths, merge

    merged = merge(kubeconfig_paths(conn.kubeconfig))
    if tuple(names) == ("*",):
        if not merged.contexts:
            raise KubeconfigError(f"--all-contexts: no context in {', '.join(merged.files) or 'any kubeconfig file'}")
        return tuple(merged.contexts)
    unknown = [n for n in names if n not in merged.contexts]
    if unknown:
        raise KubeconfigError(f'context "{unknown[0]}" does not exist')
    return tuple(names)


@dataclass(frozen=True)
class Read(Generic[T]):
    """One context's result."""

    context: str
    value: T


@dataclass(frozen=True)
class Unreachable:
    """A context that could not be read, and why (the error's one line)."""

    context: str
    reason: str


def read_each(
    conn: Connection, contexts: Sequence[str], read: Callable[[Connection], T], bound: int = BOUND
) -> list[Read[T] | Unreachable]:
    """read(connection of the context) for each context, at most `bound` at once, in the order
    given. ApiError (unreachable, refused, forbidden) and malformed quantities become Unreachable;
    anything else is a bug and is raised."""
    from .api import ApiError
    from .quantity import QuantityError

    def one(name: str) -> Read[T] | Unreachable:
        try:
            return Read(name, read(replace(conn, context=name)))
        except ApiError as err:
            return Unreachable(name, str(err))
        except QuantityError as err:  # one cluster's malformed answer is that cluster's problem only
            return Unreachable(name, f"unexpected data from the cluster: {err}")

    from concurrent.futures import ThreadPoolExecutor  # here, not at import: one context never needs it (start-up time)

    with ThreadPoolExecutor(max_workers=max(1, min(bound, len(contexts))), thread_name_prefix="context") as pool:
        return list(pool.map(one, contexts))


def add_context_lists(p: argparse.ArgumentParser) -> None:
    """--context takes a comma-separated list (one name is the usual case), and --all-contexts; after
    cli.add_connection_flags, which defines --context for one name. The value stays a string: one
    name keeps every rule of kubectl's (the context's namespace as -n's default); options() splits it."""
    for action in p._actions:
        if action.dest == "context":
            action.type = context_names
            action.metavar = "NAME[,NAME]"
            action.help = "the kubeconfig context to use; several, comma-separated, read each cluster (at most 4 at once)"
    group = next((g for g in p._action_groups if g.title and g.title.startswith("cluster connection")), p)
    group.add_argument(
        "--all-contexts", action="store_true", help="read every context of the kubeconfig (one unreachable cluster is a note)"
    )


def context_names(text: str) -> str:
    """--context as given, its names cleaned (context_list): `a,a` and `a,` are the one context a, read
    as one cluster (they were looked up as a context named "a,a")."""
    names = context_list(text)
    return ",".join(names) if names else text


def several(context: str | None, all_contexts: bool) -> tuple[str, ...] | None:
    """The contexts --context/--all-contexts name when they are more than the one connection
    (None: one cluster, as before); ("*",) stands for --all-contexts until resolve_contexts."""
    if all_contexts:
        return ("*",)
    names = context_list(context or "")
    return names if len(names) > 1 else None


def name_of(conn: Connection) -> str:
    """The context a connection means (kubectl's current-context without --context); "" for in-cluster
    configuration or flags alone."""
    from .kubeconfig import KubeconfigError, resolve

    try:
        return resolve(conn.overrides()).context
    except (KubeconfigError, OSError, ValueError):
        return conn.context or ""
