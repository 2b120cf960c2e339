"""A JSON Schema (draft-07, what yaml-language-server reads best) of the spec language, generated from
the layer registry so that it cannot drift from what `netdsl validate` accepts."""

from __future__ import annotations

from .ops import REGISTRY
from .spec import VERSION
from .tensors import DTYPES
from .spec.blocks import BLOCK_KEYS, INSTANCE_KEYS, MAX_REPEAT
from .spec.weightnames import WEIGHTS_KEYS

SCHEMA_ID = "https://netdsl.invalid/schema/netdsl-1.schema.json"
NAME = {"type": "string", "pattern": r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$"}
IDENT = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"}
SUM = {"type": "string", "pattern": r"^\s*[A-Za-z_][A-Za-z0-9_]*(\s*\+\s*[A-Za-z_][A-Za-z0-9_]*)+\s*$"}
INPUT_NAME = {"type": "string", "pattern": r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*(\.\*)?$"}
PARAM_REF = {"type": "string", "pattern": r"^\$([A-Za-z_][A-Za-z0-9_]*|\{.*\})$",
             "description": "a parameter (`$name`: the block's, or the spec's `params:`) or an expression `${...}`"}


DIM = {"type": "integer", "minimum": 1}
SIZE = {"type": "integer", "minimum": 0}  # a named dimension's range: 0 is an empty tensor (a KV cache's past)
WHEN = {"description": "false leaves it out (a spec parameter or expression: `when: $nms`)",
        "anyOf": [{"type": "boolean"}, PARAM_REF]}


def _param(schema: dict, doc: str) -> dict:
    wrapped = {"anyOf": [_items_may_be_refs(schema), {"$ref": "#/definitions/param_ref"}]}
    if doc:
        wrapped["description"] = doc
    return wrapped


def _items_may_be_refs(schema):
    """The same schema with every list item also allowed to be a block parameter (`shape: [$dim, 1, 1]`),
    as the spec reader substitutes parameters anywhere in a value."""
    if isinstance(schema, list):
        return [_items_may_be_refs(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: _items_may_be_refs(value) for key, value in schema.items()}
    if isinstance(result.get("items"), dict):
        result["items"] = {"anyOf": [result["items"], {"$ref": "#/definitions/param_ref"}]}
    return result


def _common() -> dict:
    return {
        "name": {"$ref": "#/definitions/name", "description": "unique layer name; names TensorRT layers and weights"},
        "inputs": {"description": "inputs of this layer; default: the layer above; `m.*`: the output of each "
                                  "repetition of the repeated block instance `m`",
                   "anyOf": [{"$ref": "#/definitions/name"}, {"type": "array", "items": INPUT_NAME, "minItems": 1}]},
        "when": {"description": "false leaves the layer out (its name then passes its first input through)",
                 "anyOf": [{"type": "boolean"}, {"$ref": "#/definitions/param_ref"}]},
    }


LAYER_WEIGHTS = {"type": "object", "additionalProperties": {"type": "string", "minLength": 1},
                 "description": "weight slot -> exact name in the weight file (default <layer>.<slot>)"}


def _kind_rule(op) -> dict:
    properties = {**_common(), "kind": {"const": op.kind}, "weights": LAYER_WEIGHTS}
    required = ["name", "kind"]
    for key, param in op.params.items():
        properties[key] = _param(param.type.schema(), param.doc)
        if param.required:
            required.append(key)
    return {"if": {"properties": {"kind": {"const": op.kind}}, "required": ["kind"]},
            "then": {"properties": properties, "required": required, "additionalProperties": False,
                     "description": op.doc}}


def _instance_rule() -> dict:
    arguments = {"type": "object", "propertyNames": IDENT}
    properties = {**_common(), "block": {"anyOf": [{"$ref": "#/definitions/ident"}, {"$ref": "#/definitions/param_ref"}],
                                         "description": "the block to instantiate"},
                  "with": {**arguments, "description": "block parameters"},
                  "repeat": {"anyOf": [{"type": "integer", "minimum": 1, "maximum": MAX_REPEAT},
                                       {"$ref": "#/definitions/param_ref"}],
                             "description": "instantiate N times in a chain, named <name>.0 … <name>.N-1"},
                  "first": {**arguments, "description": "parameters that differ in the first repetition"}}
    assert set(properties) == set(INSTANCE_KEYS)
    return {"if": {"required": ["block"]},
            "then": {"properties": properties, "required": ["name", "block"], "additionalProperties": False}}


def _layer_rule() -> dict:
    """A layer: a kind with its parameters, or a block instance."""
    return {
        "type": "object",
        "required": ["name"],
        "properties": {"kind": {"enum": sorted(REGISTRY), "description": "the layer kind"}},
        "oneOf": [{"required": ["kind"]}, {"required": ["block"]}],
        "allOf": [_kind_rule(REGISTRY[k]) for k in sorted(REGISTRY)] + [_instance_rule()],
    }


def _block_rule() -> dict:
    block = {
        "type": "object",
        "required": ["layers"],
        "additionalProperties": False,
        "properties": {
            "params": {"type": "object", "propertyNames": IDENT,
                       "description": "parameter name -> default value, or `required`"},
            "inputs": {"type": "array", "items": {"$ref": "#/definitions/name"}, "minItems": 1,
                       "description": "names of the block's inputs; default [input]"},
            "layers": {"type": "array", "items": {"$ref": "#/definitions/layer"}, "minItems": 1},
            "output": {"$ref": "#/definitions/name", "description": "the layer whose output is the block's; "
                                                                     "default the last"},
            "doc": {"type": "string"},
        },
    }
    assert set(block["properties"]) == set(BLOCK_KEYS)
    return block


def _input_rule() -> dict:
    return {
        "type": "object",
        "required": ["name", "shape"],
        "additionalProperties": False,
        "properties": {
            "name": {"$ref": "#/definitions/name"},
            "dtype": {"enum": list(DTYPES), "default": "float32"},
            "shape": {"type": "array", "minItems": 0, "maxItems": 8,
                      "items": [{"anyOf": [DIM, {"const": -1}, IDENT, SUM, PARAM_REF]}],
                      "additionalItems": {"anyOf": [DIM, IDENT, SUM, PARAM_REF]},
                      "description": "sizes, or names of dynamic dimensions (ranges in `dims:`/`profiles:`) or "
                                     "sums of them (`past+sequence`), or spec parameters (`$height`); the first dimension may "
                                     "be -1 for a dynamic batch"},
            "batch": {"type": "object", "required": ["min", "opt", "max"], "additionalProperties": False,
                      "properties": {k: DIM for k in ("min", "opt", "max")},
                      "description": "range of a dynamic batch"},
            "when": WHEN,
        },
    }


def _weights_rule() -> dict:
    weights = {"anyOf": [{"type": "string", "minLength": 1}, {
        "type": "object", "additionalProperties": False,
        "properties": {
            "file": {"type": "string", "minLength": 1, "description": "default weight file, relative to the spec"},
            "prefix": {"type": "string", "description": "prepended to every weight name (e.g. module.)"},
            "rename": {"type": "array", "description": "first rule whose `from` starts a name replaces it by `to`",
                       "items": {"type": "object", "required": ["from", "to"], "additionalProperties": False,
                                 "properties": {"from": {"type": "string", "minLength": 1},
                                                "to": {"type": "string"}}}},
            "tied": {"type": "object", "additionalProperties": {"type": "string", "minLength": 1},
                     "description": "a file key -> the key of the weight it is a copy of (tied weights)"}}}],
               "description": "the default weight file (relative to this spec), or {file, prefix, rename, tied}"}
    assert set(weights["anyOf"][1]["properties"]) == set(WEIGHTS_KEYS)
    return weights


def _quantization_rule() -> dict:
    from .spec.quantization import DTYPES as QUANTIZED_DTYPES, SECTION_KEYS, WEIGHT_AXIS

    quantization = {
        "type": "object", "additionalProperties": False,
        "description": "explicit quantization: Q/DQ pairs on the inputs and weights of these layers",
        "properties": {
            "dtype": {"enum": list(QUANTIZED_DTYPES), "default": "int8", "description": "int8, or fp8 (E4M3)"},
            "scales": {"type": "string", "minLength": 1,
                       "description": "activation ranges (netdsl calibrate), relative to the spec"},
            "kinds": {"type": "array", "items": {"enum": list(WEIGHT_AXIS)},
                      "description": "kinds quantized (default: all of these)"},
            "exclude": {"type": "array", "items": {"type": "string", "minLength": 1},
                        "description": "left in float: layer names, name prefixes (every layer in a block "
                                       "instance), or kinds"},
            "residual": {"type": "boolean", "default": True,
                         "description": "Q/DQ on the other input of a residual add, so TensorRT fuses the add"}}}
    assert set(quantization["properties"]) == set(SECTION_KEYS)
    for key, rule in quantization["properties"].items():  # spec parameters work here too
        quantization["properties"][key] = {"anyOf": [rule, {"$ref": "#/definitions/param_ref"}]}
    quantization["properties"]["when"] = WHEN
    return quantization


def _output_rule() -> dict:
    return {"anyOf": [{"$ref": "#/definitions/name"},
                      {"type": "object", "required": ["name", "from"], "additionalProperties": False,
                       "properties": {"name": {"$ref": "#/definitions/name"}, "from": {"$ref": "#/definitions/name"},
                                      "when": WHEN}}]}


def _build_rule() -> dict:
    """The `build:` section: netdsl build's options as the spec's defaults (netdsl.spec.buildopts)."""
    from .spec.buildopts import HARDWARE_COMPATIBILITY, OPTION_KEYS, PRECISION_ALIASES, PRECISIONS, REFIT_MODES, \
        SWITCHES, TARGETS

    rules = {
        "precision": {"enum": list(PRECISIONS) + list(PRECISION_ALIASES)},
        "workspace": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "string"}],
                      "description": "bytes, or a size like 1GiB or 1G"},
        "refit": {"enum": list(REFIT_MODES)},
        "targets": {"anyOf": [{"type": "array", "items": {"enum": list(TARGETS)}, "minItems": 1},
                              {"type": "string"}], "description": "TensorRT-RTX compute capabilities"},
        "timing_cache": {"type": "string", "minLength": 1},
        "optimization_level": {"type": "integer", "minimum": 0, "maximum": 5},
        "hardware_compatibility": {"type": "string", "description": ", ".join(sorted(HARDWARE_COMPATIBILITY))},
    } | {key: {"type": "boolean"} for key in SWITCHES}
    assert set(rules) == set(OPTION_KEYS), set(OPTION_KEYS) ^ set(rules)
    return {"type": "object", "additionalProperties": False, "properties": rules,
            "description": "build options: `netdsl build`'s defaults for this spec (the command line wins)"}


def build_schema() -> dict:
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": SCHEMA_ID,
        "title": f"netdsl spec, language version {VERSION}",
        "type": "object",
        "required": ["netdsl", "inputs", "layers"],
        "additionalProperties": False,
        "properties": {
            "netdsl": {"const": VERSION, "description": "spec language version"},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "params": {"type": "object", "propertyNames": IDENT,
                       "description": "the spec's parameters, set with `--set NAME=VALUE`: a value, a list of "
                                      "values, an expression `${...}` over the ones above, or a table `{by: "
                                      "<parameter>, <value>: ...}`",
                       "additionalProperties": {"anyOf": [{"type": ["number", "string", "boolean"]},
                                                          {"type": "array", "maxItems": 64,
                                                           "items": {"type": ["number", "string", "boolean"]}},
                                                          {"type": "object", "required": ["by"]}]}},
            "weights": _weights_rule(),
            "plugins": {"type": "array", "items": {"type": "string", "minLength": 1},
                        "description": "TensorRT plugin libraries, loaded before the network is built"},
            "build": _build_rule(),
            "quantization": _quantization_rule(),
            "inputs": {"type": "array", "items": _input_rule(), "minItems": 1},
            "dims": {"type": "object", "propertyNames": IDENT, "description": "range of each named dimension",
                     "additionalProperties": {"type": "object", "required": ["min", "opt", "max"],
                                              "additionalProperties": False,
                                              "properties": {**{k: {"anyOf": [SIZE, PARAM_REF]} for k in ("min", "opt", "max")},
                                                             "multiple_of": {"anyOf": [DIM, PARAM_REF]}}}},
            "profiles": {"type": "array", "minItems": 1, "description": "one TensorRT optimization profile each: "
                         "named dimension -> [min, opt, max] (others keep their `dims:` range)",
                         "items": {"type": "object", "propertyNames": IDENT, "additionalProperties": {"anyOf": [
                             {"type": "array", "items": {"anyOf": [SIZE, PARAM_REF]}, "minItems": 3, "maxItems": 3},
                             {"type": "object", "required": ["min", "opt", "max"], "additionalProperties": False,
                              "properties": {k: {"anyOf": [SIZE, PARAM_REF]} for k in ("min", "opt", "max")}}]}}},
            "blocks": {"type": "object", "propertyNames": IDENT, "additionalProperties": {"$ref": "#/definitions/block"}},
            "layers": {"type": "array", "items": {"$ref": "#/definitions/layer"}, "minItems": 1},
            "outputs": {"type": "array", "items": _output_rule(), "minItems": 1},
        },
        "definitions": {"name": NAME, "ident": IDENT, "param_ref": PARAM_REF, "layer": _layer_rule(),
                        "block": _block_rule()},
    }
