"""`netdsl generate`: greedy decoding over a one-step decoder spec with a KV cache (specs/zoo/gpt2.yaml),
with the reference executor (no GPU); `--check` compares it with transformers."""

from __future__ import annotations

from .args import EXIT_INVALID, EXIT_OK, add_format, add_set, add_weights, network_of, print_json


def add_generate(add) -> None:
    generating = add("generate", cmd_generate, "greedy text generation over a decoder spec with a KV cache (no GPU)",
                     "Run the prompt through the spec with an empty cache (past 0), then one token at a time, each "
                     "step's present.<i>.key/value fed back as past_key_values.<i>.key/value and the next token the "
                     "argmax of the last logits (transformers' generate(do_sample=False)), on the reference "
                     "executor. --check builds transformers' GPT2LMHeadModel from the spec's parameters and these "
                     "weights, generates with it, and compares the tokens and each step's logits (exit 1 when the "
                     "tokens differ).",
                     usage="netdsl generate SPEC --ids ID,ID,... [--max-new N] [--weights FILE | --random-weights] "
                     "[--set NAME=VALUE] [--eos ID] [--check] [--format json]")
    add_set(generating)
    generating.add_argument("spec", metavar="SPEC")
    generating.add_argument("--ids", required=True, metavar="ID,ID,...", type=token_ids,
                            help="the prompt's token ids, comma-separated (e.g. 50256,318)")
    generating.add_argument("--max-new", type=int, default=20, metavar="N", help="tokens to generate (default 20)")
    generating.add_argument("--eos", type=int, metavar="ID",
                            help="stop after this token (default: run --max-new steps)")
    generating.add_argument("--check", action="store_true", help="compare with transformers' GPT2LMHeadModel "
                            "(needs transformers and torch)")
    add_weights(generating, random="seeded random weights: checks that the spec runs; its tokens mean nothing")
    add_format(generating)


def token_ids(text: str) -> list[int]:
    import argparse

    parts = [p.strip() for p in text.split(",")]
    if not all(p.isdigit() and p.isascii() and len(p) <= 9 for p in parts):
        raise argparse.ArgumentTypeError(f"expected token ids such as 50256,318, not `{text[:60]}`")
    return [int(p) for p in parts]


def cmd_generate(args) -> int:
    from .. import generate
    from ..diagnostics import UsageError

    if args.max_new < 0:
        raise UsageError(f"--max-new must be 0 or more, found {args.max_new}")
    network = network_of(args)
    checked, bound = network.checked, network.bound_weights
    vocab = checked.types[next(o.source for o in checked.graph.outputs if o.name == "logits")].shape[-1] \
        if any(o.name == "logits" for o in checked.graph.outputs) else None
    if isinstance(vocab, int) and max(args.ids) >= vocab:
        raise UsageError(f"--ids: token {max(args.ids)} is outside the vocabulary (0..{vocab - 1})")
    result = generate.greedy(checked, bound, [args.ids], args.max_new, eos=args.eos)
    check = generate.check_with_transformers(checked, bound, result, eos=args.eos) if args.check else None
    if args.format == "json":
        report = {"ids": result.ids[0], "new_ids": result.new_ids[0]}
        if check is not None:
            report["check"] = {"transformers_ids": check["ids"][0], "equal": check["equal"],
                               "steps": check["steps"]}
        print_json(report)
    else:
        print(",".join(map(str, result.new_ids[0])))
        if check is not None:
            worst = max((s["max_error"] for s in check["steps"]), default=0.0)
            verdict = "equal" if check["equal"] else "DIFFERENT: " + ",".join(map(str, check["ids"][0]))
            print(f"transformers: {verdict}; logits' largest difference over {len(check['steps'])} steps {worst:.3g}")
    return EXIT_INVALID if check is not None and not check["equal"] else EXIT_OK


COMMANDS = {"generate": add_generate}
