"""`netdsl matrix plan|build`: many engines at once, from a matrix file (models x precisions x batch ranges x
targets), through a cache keyed by content, on local processes or a Ray cluster (:mod:`netdsl.fleet`)."""

from __future__ import annotations

import argparse
import sys
import time

from .args import EXIT_INVALID, EXIT_OK, HelpFormatter, add_format, positive_count, print_json

MATRIX_HELP = "the matrix file (YAML: models, precisions, batches, targets, output; see docs/fleet.md)"


def add_matrix(add) -> None:
    matrix = add("matrix", None, "build a matrix of engines for a fleet",
                 "Models x precisions x batch ranges x targets, each engine built once: a cache keyed by the "
                 "SHA-256 of the expanded spec, the weights, the build options, the TensorRT version and the target "
                 "copies what was built before. Builds run on a pool of local processes or on a Ray cluster.")
    commands = matrix.add_subparsers(dest="matrix_command", metavar="COMMAND", required=True)
    planned = commands.add_parser("plan", formatter_class=HelpFormatter, help="what would be built and what is cached",
                                  description="Check the matrix file, compute every entry's cache key and say which "
                                  "entries the cache has, which it lacks and which are corrupted; builds nothing.")
    planned.set_defaults(handler=cmd_matrix_plan)
    add_common(planned)
    built = commands.add_parser(
        "build", formatter_class=HelpFormatter, help="build what the cache lacks and write every engine",
        description="Build every entry the cache lacks (a corrupted entry is reported and rebuilt), store each in the "
        "cache, and write every engine of the matrix with its manifest to the output. An entry that fails is "
        "reported with its message and the others are kept; the exit code is then 1.")
    built.set_defaults(handler=cmd_matrix_build)
    add_common(built)
    where = built.add_mutually_exclusive_group()
    where.add_argument("--local", type=positive_count, default=1, metavar="N", help="build on this machine, N processes at once "
                       "(default 1, so that the machine stays usable)")
    where.add_argument("--ray", metavar="auto|ADDRESS", help="build on a Ray cluster (`auto`: the one `ray start` "
                       "joined this machine to), each build a task on a node of its target; needs "
                       "`pip install 'netdsl[ray]'`")
    built.add_argument("--timeout", type=seconds, metavar="SECONDS", help="with --ray: report an entry that is not done "
                       "this long after it was submitted as failed (e.g. no node has its target's resource)")
    built.add_argument("--retries", type=retry_count, metavar="N", help="with --ray: times a build is retried when its "
                       "worker or node is lost (default 3)")
    built.add_argument("--shared", metavar="DIR", help="with --ray: workers write plans and manifests to DIR (a "
                       "folder every node and this machine see at that path) instead of Ray's object store")
    built.add_argument("-o", "--output", metavar="DIR", help="the output folder (default: the matrix's `output:`)")


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, not `{text}`")
    return value


def retry_count(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 6):
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, not `{text}`")
    return int(text)


def add_common(command) -> None:
    command.add_argument("matrix", metavar="MATRIX", help=MATRIX_HELP)
    command.add_argument("--cache", metavar="DIR", help="the engine cache (default: $XDG_CACHE_HOME/netdsl/engines, "
                         "else ~/.cache/netdsl/engines)")
    add_format(command)


def cmd_matrix_plan(args) -> int:
    from .. import fleet

    jobs = fleet.plan(args.matrix, args.cache)
    if args.format == "json":
        print_json({"entries": [{"entry": j.name, "key": j.key, "status": j.status,
                                 **({"problem": j.problem} if j.problem else {})} for j in jobs],
                    "build": sum(j.status != "cached" for j in jobs),
                    "cached": sum(j.status == "cached" for j in jobs)})
        return EXIT_OK
    for job in jobs:
        note = f" ({job.problem})" if job.problem else ""
        print(f"{job.status:<9} {job.name}  {job.key[:12]}{note}")
    cached = sum(j.status == "cached" for j in jobs)
    print(f"{len(jobs)} engines: {len(jobs) - cached} to build, {cached} cached")
    return EXIT_OK


def cmd_matrix_build(args) -> int:
    from .. import fleet
    from ..diagnostics import UsageError

    if args.ray is None and (args.timeout is not None or args.retries is not None or args.shared is not None):
        raise UsageError("--timeout, --retries and --shared are for --ray builds")
    meter = Meter(args.format == "text" and sys.stderr.isatty())
    report = fleet.build(args.matrix, args.cache, args.local, args.ray, args.timeout, args.retries, meter.update,
                         args.output, args.shared)
    meter.close()
    if args.format == "json":
        print_json(report.to_json())
    else:
        for entry in report.entries:
            if entry.get("problem"):
                print(f"note: {entry['entry']}: {entry['problem']}", file=sys.stderr)
        for failure in report.failures:
            print(f"netdsl: error: {failure['error']}", file=sys.stderr)
        counts = report.counts
        print(f"{counts['built']} built, {counts['cached']} cached, {counts['failed']} failed; wrote "
              f"{counts['built'] + counts['cached']} engines to {report.output}")
    return EXIT_INVALID if report.failures else EXIT_OK


class Meter:
    """One line for the whole matrix on a terminal: done/cached/failed and the time."""

    def __init__(self, shown: bool):
        self.shown = shown
        self.start = time.perf_counter()

    def update(self, report, outcome) -> None:
        if self.shown:
            counts = report.counts
            sys.stderr.write(f"\rmatrix: {len(report.entries)}/{report.total} done: {counts['built']} built, "
                             f"{counts['cached']} cached, {counts['failed']} failed"
                             f" ({time.perf_counter() - self.start:.0f} s)")
            sys.stderr.flush()

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\n")


COMMANDS = {"matrix": add_matrix}
