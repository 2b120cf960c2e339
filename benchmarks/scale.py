"""Scale: `validate`, `fmt`, `summary` and `diff` on residual chains of 1k, 10k and 100k layers.

Targets (issue 21, item 6): time per layer constant from 1k to 100k layers (the ratios against the 1k
figure, measured in the same run, stay near 1), and `netdsl validate` of 100k layers under 5 s.

Each figure is the median of fresh processes. A process imports netdsl, then times one command run
through `netdsl.cli.main` (output to /dev/null): CPU time of the process, so that other work on the
machine disturbs the figures less, and without interpreter start-up. The last line times the whole
`netdsl validate` command at the largest size, start-up included: wall-clock time, and the CPU time
of the process.
The specs hold a comment line every 1,000 layers and an end-of-line comment on every `add`, which
`fmt` keeps; `diff` compares a spec with a copy where one batch norm's eps changes and one relu is
renamed.

Run: python benchmarks/scale.py [--repeat N] [--sizes 1000,10000,100000]
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMANDS = ("validate", "fmt", "summary", "diff")


def generate(layers: int, changed: bool = False) -> str:
    """A spec of exactly `layers` layers: convolution, batch_norm, relu, and an add every fourth triple
    (a residual chain). With `changed`: one batch norm's eps differs and one relu has another name."""
    units = layers * 4 // 13  # 13 layers per 4 units
    eps_unit = units // 2 // 4 * 4  # unit % 4 == 0: its relu is not an add's input, so it can be renamed
    lines = ["netdsl: 1", "inputs:", "  - {name: data, shape: [-1, 16, 32, 32], batch: {min: 1, opt: 4, max: 8}}",
             "layers:"]
    count, unit, skip = 0, 0, "data"
    while True:
        eps = ", eps: 0.001" if changed and unit == eps_unit else ""
        relu = f"relu{unit}" + ("_renamed" if changed and unit == eps_unit + 1 else "")
        unit_layers = [f"{{name: conv{unit}, kind: convolution, out_channels: 16, kernel: 3, padding: 1, bias: false}}",
                       f"{{name: bn{unit}, kind: batch_norm{eps}}}", f"{{name: {relu}, kind: relu}}"]
        if unit % 4 == 3:
            unit_layers.append(f"{{name: add{unit}, kind: add, inputs: [{relu}, {skip}]}}  # skip connection")
            skip = f"add{unit}"
        for layer in unit_layers:
            if count == layers:
                return "\n".join(lines) + "\n"
            if count % 1000 == 0:
                lines.append(f"  # stage {count // 1000}")
            lines.append(f"  - {layer}")
            count += 1
        unit += 1


def worker(command: str, paths: list[str]) -> None:
    """In a fresh process: run one command in-process and print its seconds."""
    sys.path.insert(0, ROOT)
    from netdsl import cli, diff, fmt, summary  # noqa: F401  (imported before the clock starts)
    import netdsl.spec  # noqa: F401
    import yaml  # noqa: F401

    argv = {"validate": ["validate", *paths], "fmt": ["fmt", "--check", *paths], "summary": ["summary", *paths],
            "diff": ["diff", *paths]}[command]
    stdout = sys.stdout
    with open(os.devnull, "w") as sink:
        sys.stdout = sink
        start = time.process_time()
        code = cli.main(argv)
        seconds = time.process_time() - start
        sys.stdout = stdout
    expected = {"validate": 0, "fmt": (0, 1), "summary": 0, "diff": 1}[command]
    if code != expected and not (isinstance(expected, tuple) and code in expected):
        raise SystemExit(f"{command} exited {code}")
    print(seconds)


def measure(command: str, paths: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        result = subprocess.run([sys.executable, __file__, "--worker", command, *paths], capture_output=True,
                                text=True, cwd=ROOT)
        if result.returncode != 0:
            raise SystemExit(f"{command} {paths}: {result.stderr.strip()[-2000:]}")
        times.append(float(result.stdout.split()[-1]))
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker[0], args.worker[1:])

    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        specs = {}
        for layers in sizes:
            old, new = (os.path.join(folder, f"chain{layers}{side}.yaml") for side in ("", "-changed"))
            for path, changed in ((old, False), (new, True)):
                with open(path, "w") as handle:
                    handle.write(generate(layers, changed))
            specs[layers] = (old, new)
        print(f"per layer, median of {args.repeat} fresh processes (command in-process, start-up excluded); "
              f"x: per-layer time against {sizes[0]:,} layers (1.0 = linear)")
        header = f"  {'':<9}" + "".join(f"{f'{n:,} layers':>24}" for n in sizes)
        print(header)
        for command in COMMANDS:
            cells, first = [], None
            for layers in sizes:
                old, new = specs[layers]
                seconds = measure(command, [old, new] if command == "diff" else [old], args.repeat)
                per_layer = seconds / layers * 1e6
                first = first or per_layer
                cells.append(f"{seconds * 1000:9.0f} ms {per_layer:5.1f} us x{per_layer / first:4.2f}")
            print(f"  {command:<9}" + "".join(f"{cell:>24}" for cell in cells), flush=True)
        largest = sizes[-1]
        wall, cpu = [], []
        for _ in range(args.repeat):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "netdsl", "validate", specs[largest][0]], check=True,
                           capture_output=True, cwd=ROOT)
            wall.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        seconds = statistics.median(wall)
        print(f"netdsl validate, {largest:,} layers, whole command: {seconds:.2f} s wall-clock, "
              f"{statistics.median(cpu):.2f} s CPU (target < 5 s: {'met' if seconds < 5 else 'NOT met'})")


if __name__ == "__main__":
    main()
