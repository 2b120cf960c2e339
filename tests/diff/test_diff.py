"""`netdsl diff` on real pairs of specs. Each pair's verdict and items are asserted from hand-derived
figures (below); the golden text and JSON outputs (expected.txt, expected.json) were read line by line
against those figures before they were committed, and catch any other change in the output."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from netdsl import diff

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CASES = sorted(p.name for p in HERE.iterdir() if (p / "old.yaml").exists())


def netdsl(*args, cwd=ROOT, env=None):
    environment = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR",)}
    environment.update({"NO_COLOR": "1", **(env or {})})
    return subprocess.run([sys.executable, "-m", "netdsl", *args], capture_output=True, text=True, cwd=cwd,
                          env=environment, timeout=120)


def pair(case):
    return diff.compare(diff.load_side(str(HERE / case / "old.yaml")), diff.load_side(str(HERE / case / "new.yaml")))


@pytest.mark.parametrize("case", CASES)
def test_golden_text_and_json(case):
    old, new = f"tests/diff/{case}/old.yaml", f"tests/diff/{case}/new.yaml"
    text = netdsl("diff", old, new)
    assert text.returncode == 1
    assert text.stdout == (HERE / case / "expected.txt").read_text()
    as_json = netdsl("diff", old, new, "--format", "json")
    assert json.loads(as_json.stdout) == json.loads((HERE / case / "expected.json").read_text())


def test_channel_change():
    d = pair("channels")
    assert d.changed == [("conv1", {"out_channels": (6, 8)})]
    assert [s[0] for s in d.shapes] == ["conv1", "relu1", "pool1"]  # pool1 feeds conv2, whose output keeps 16
    assert [w[0] for w in d.weights] == ["conv1.weight", "conv1.bias", "conv2.weight"]
    # conv1: 2 more filters of 1x5x5 + bias = 52; conv2: 16 filters each 2 more 5x5 channels = 800.
    assert d.per_layer == [("conv1", 52, 2 * 28 * 28 * 25), ("conv2", 800, 16 * 10 * 10 * 2 * 25)]
    assert d.totals["params"] == {"old": 61_706, "new": 62_558, "delta": 852}
    assert d.refit_reasons and "out_channels 6 -> 8" in d.refit_reasons[0]


def test_inserted_layer_rewires_the_next():
    d = pair("inserted")
    assert d.added == ["drop3"] and d.changed == [("relu3", {"inputs": ("fc1", "drop3")})]
    assert d.shapes == [] and d.totals["params"]["delta"] == 0
    assert len(d.refit_reasons) == 2


def test_renamed_weightless_layer_keeps_refit():
    d = pair("renamed")
    assert d.renamed == [("pool2", "pool_b")] and not d.added and not d.removed and not d.changed
    assert d.refit_reasons == []  # no weight has a new name


def test_renamed_layer_with_weights_blocks_refit(tmp_path):
    old = (HERE / "channels" / "old.yaml").read_text()
    (tmp_path / "new.yaml").write_text(old.replace("name: fc2,", "name: fc_2,").replace(
        "{name: relu4, kind: relu}", "{name: relu4, kind: relu, inputs: fc_2}"))
    d = diff.compare(diff.load_side(str(HERE / "channels" / "old.yaml")), diff.load_side(str(tmp_path / "new.yaml")))
    assert d.renamed == [("fc2", "fc_2")] and not d.changed
    assert d.refit_reasons == ["layer `fc2` is renamed to `fc_2`: its weights' names change, and TensorRT refits by name"]


def test_stride_change():
    d = pair("stride")
    assert d.changed == [("layer4.0.conv1", {"stride": ((2, 2), (1, 1))}),
                         ("layer4.0.downsample.0", {"stride": ((2, 2), (1, 1))})]
    assert len(d.shapes) == 16 and all(a[2:] == (7, 7) and b[2:] == (14, 14) for _, a, b in d.shapes)
    assert d.totals["params"]["delta"] == 0 and d.weights == []
    # 14x14 instead of 7x7 outputs: 4x the MACs of every layer4 convolution.
    assert d.totals["macs"]["delta"] == 3 * (512 * 49 * 256 * 9 + 3 * 512 * 49 * 512 * 9 + 512 * 49 * 256)
    assert len(d.refit_reasons) == 2


def test_activation_change():
    d = pair("activation")
    assert d.changed == [("relu3", {"kind": ("relu", "leaky_relu")})] and len(d.refit_reasons) == 1


def test_eps_change_is_refittable():
    d = pair("eps")
    assert len(d.changed) == 8 and all(what == {"eps": (1e-5, 1e-3)} for _, what in d.changed)
    assert d.refit_reasons == []


def test_changed_profile_ranges_need_a_rebuild_but_the_weights_still_refit(tmp_path):
    old = ROOT / "specs" / "dynamic" / "detector_dynamic.yaml"
    text = old.read_text()
    new = tmp_path / "detector.yaml"
    new.write_text(text.replace("height: [320, 640, 640]", "height: [320, 480, 608]")
                   .replace("width: {min: 128, opt: 320, max: 640, multiple_of: 32}",
                            "width: {min: 128, opt: 320, max: 640, multiple_of: 64}")
                   .replace("width: [320, 640, 640]}", "width: [320, 640, 640]}\n  - {height: [128, 128, 128], width: [128, 128, 128]}"))
    d = diff.compare(diff.load_side(str(old)), diff.load_side(str(new)))
    assert d.profiles == ["profile 0 `width`: 128..320 (opt 256, multiples of 32) -> 128..320 (opt 256, multiples of 64)",
                          "profile 1 `height`: 320..640 (opt 640, multiples of 32) -> 320..608 (opt 480, multiples of 32)",
                          "profile 1 `width`: 320..640 (opt 640, multiples of 32) -> 320..640 (opt 640, multiples of 64)",
                          "profile 2 added"]
    assert d.refit_reasons == [] and not (d.changed or d.shapes or d.weights or d.io)
    result = netdsl("diff", str(old), str(new))
    assert result.returncode == 1
    assert "optimization profiles (an engine serves the ranges it was built with: rebuild for NEW's; its weights " \
           "refit as before):\n  profile 0 `width`" in result.stdout
    assert "refit: an engine built from OLD can be refit to NEW" in result.stdout
    as_json = json.loads(netdsl("diff", str(old), str(new), "--format", "json").stdout)
    assert as_json["profiles"] == d.profiles and as_json["refit"] == {"possible": True, "reasons": []}


def test_identical_specs_exit_0_and_formatting_does_not_count(tmp_path):
    old = (HERE / "channels" / "old.yaml").read_text()
    (tmp_path / "reflowed.yaml").write_text("# a comment\n" + old.replace("{name: relu1, kind: relu}",
                                                                          "{kind: relu, name: relu1}"))
    result = netdsl("diff", str(HERE / "channels" / "old.yaml"), str(tmp_path / "reflowed.yaml"))
    assert result.returncode == 0 and "no differences" in result.stdout


def test_bad_sides_are_clean_errors(tmp_path):
    (tmp_path / "bad.yaml").write_text("netdsl: 1\ninputs: [{name: x, shape: [1, 4]}]\nlayers: [{name: r, kind: relu9}]\n")
    result = netdsl("diff", str(HERE / "channels" / "old.yaml"), str(tmp_path / "bad.yaml"))
    assert result.returncode == 1 and "unknown-kind" in result.stderr
    result = netdsl("diff", "nosuchrev:specs/lenet.yaml", "specs/lenet.yaml")
    assert result.returncode == 2 and "git show" in result.stderr


@pytest.fixture
def repo(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
           "HOME": str(tmp_path)}

    def git(*args):
        return subprocess.run(["git", *args], cwd=tmp_path, capture_output=True, text=True, env={**os.environ, **env},
                               check=True, timeout=60).stdout

    git("init", "-q")
    shutil.copy(HERE / "channels" / "old.yaml", tmp_path / "net.yaml")
    git("add", "net.yaml")
    git("commit", "-qm", "old")
    shutil.copy(HERE / "channels" / "new.yaml", tmp_path / "net.yaml")
    return tmp_path, git


def test_rev_path_sides_read_from_git(repo):
    folder, _ = repo
    result = netdsl("diff", "HEAD:net.yaml", "net.yaml", cwd=folder)
    assert result.returncode == 1 and "conv1: out_channels 6 -> 8" in result.stdout


def test_a_revision_starting_with_a_dash_never_reaches_git_as_an_option(repo):
    """`--output=x.txt:net.yaml` is no file, so it reads as REV:path; handed to `git show` as it was, git took
    the revision for its --output option and wrote x.txt."""
    folder, _ = repo
    before = sorted(path.name for path in folder.iterdir())
    for side in ("--output=x.txt:net.yaml", "-p:net.yaml"):
        result = netdsl("diff", "--", side, "net.yaml", cwd=folder)
        assert result.returncode == 2, result.stderr
        assert f"{side}: not a file, and `{side.split(':')[0]}` is not a git revision" in result.stderr
        assert "Traceback" not in result.stderr and sorted(path.name for path in folder.iterdir()) == before
    # a plain revision still reads from git
    result = netdsl("diff", "HEAD:net.yaml", "net.yaml", cwd=folder)
    assert result.returncode == 1 and "conv1: out_channels 6 -> 8" in result.stdout


def test_git_textconv_shows_the_summary(repo):
    folder, git = repo
    command = f"{sys.executable} -m netdsl summary --textconv"
    git("config", "diff.netdsl.textconv", command)
    (folder / ".gitattributes").write_text("*.yaml diff=netdsl\n")
    lines = git("diff", "HEAD", "--", "net.yaml").splitlines()
    assert any(line.startswith("-conv1") and "[N, 6, 28, 28]" in line for line in lines)
    assert any(line.startswith("+conv1") and "[N, 8, 28, 28]" in line for line in lines)
    assert any(line.startswith("-total") and "61,706" in line for line in lines)
    assert any(line.startswith("+total") and "62,558" in line for line in lines)


def test_git_difftool(repo):
    folder, git = repo
    git("config", "difftool.netdsl.cmd", f'{sys.executable} -m netdsl diff "$LOCAL" "$REMOTE"')
    shown = git("difftool", "-y", "-t", "netdsl", "HEAD", "--", "net.yaml")
    assert "conv1: out_channels 6 -> 8" in shown and "cannot be refit" in shown
