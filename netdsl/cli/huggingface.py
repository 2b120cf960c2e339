"""`netdsl hf-config`: a Hugging Face config.json as the `--set` values of the zoo spec that computes it."""

from __future__ import annotations

import json
import os
import sys

from .args import EXIT_OK, add_format


def add_hf_config(add) -> None:
    command = add("hf-config", cmd_hf_config, "print the --set values that fit a zoo spec to a Hugging Face config.json",
                  "Read a transformers config.json (model_type bert: a BERT-family encoder; clip) and print the zoo spec "
                  "that computes it and the --set arguments for its sizes, ready for `$(...)` in a shell: "
                  "netdsl build specs/zoo/bert_base_uncased.yaml $(netdsl hf-config config.json) --weights "
                  "model.safetensors --strict. What the spec cannot compute (another activation, relative positions, "
                  "another image size) is refused, naming the key. See docs/huggingface.md.")
    command.add_argument("config", metavar="CONFIG", help="the checkpoint's config.json")
    add_format(command)


def cmd_hf_config(args) -> int:
    from ..diagnostics import UsageError
    from ..huggingface import ConfigError, set_arguments, spec_values

    try:
        with open(args.config, encoding="utf-8") as stream:
            config = json.load(stream)
    except OSError as error:
        raise UsageError(f"{args.config}: cannot read it ({error.strerror or error})") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise ConfigError(f"{args.config}: not JSON ({error})") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{args.config}: a config.json holds an object, found {type(config).__name__}")
    spec, values = spec_values(config, os.path.basename(args.config))
    if args.format == "json":
        print(json.dumps({"spec": f"specs/zoo/{spec}.yaml", "params": values}))
    else:
        print(f"# specs/zoo/{spec}.yaml", file=sys.stderr)
        print(" ".join(set_arguments(values)))
    return EXIT_OK


COMMANDS = {"hf-config": add_hf_config}
