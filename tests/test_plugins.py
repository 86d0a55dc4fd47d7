"""``modbench/plugins.py``: a user's loss and backbone from a file, a module, an entry point;
``timm:`` backbones. The example of docs/extending.md is copied and run as a user would."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest
import torch
import yaml

from modbench import plugins
from modbench.plugins import resolve_references
from modbench.errors import UserError
from modbench.losses import resolve_loss

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "examples" / "poly_loss.py"


def suite(tmp_path, losses, backbone="small-cnn", name="plugin-suite.yaml"):
    data = {
        "name": "plugins",
        "dataset": {"name": "digits", "subset": 6},
        "backbone": {"name": backbone, "embedding_dim": 16},
        "train": {"epochs": 1, "batch_size": 32, "optimizer": "adam", "lr": 1.0e-3, "weight_decay": 4.0e-4},
        "seeds": [0],
        "losses": losses,
    }
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def user_folder(tmp_path, monkeypatch):
    """A folder with the example loss, the current directory as a user would run from."""
    folder = tmp_path / "mine"
    folder.mkdir()
    shutil.copy(EXAMPLE, folder / "poly_loss.py")
    monkeypatch.chdir(folder)
    return folder


def test_example_loss_runs_beside_cross_entropy(cli, user_folder, cache_dir, monkeypatch):
    monkeypatch.chdir(user_folder.parent)  # run from elsewhere: the path is the suite's
    path = suite(user_folder, [
        {"name": "cross-entropy"},
        {"name": "./poly_loss.py:PolyLoss", "label": "Poly-1", "params": {"epsilon": 2.0}},
    ])
    result = cli("compare", "--suite", path, "--json", "--cache-dir", cache_dir, "--device", "cpu")
    assert result.exit_code == 0, result.stderr
    records = [r for r in json.loads(result.stdout) if r.get("status")]
    assert [r["label"] for r in records] == ["cross-entropy", "Poly-1"]
    assert all(r["status"] == "done" and 0 <= r["nmi"] <= 1 for r in records)


def test_example_spec_family_params_and_source(user_folder):
    spec = resolve_loss("./poly_loss.py:PolyLoss", resolve_references(["./poly_loss.py:PolyLoss"], user_folder))
    assert spec.family == "softmax"
    assert spec.params.model_validate({"epsilon": 2.0}).epsilon == 2.0
    assert spec.source_files == (str((user_folder / "poly_loss.py").resolve()),)
    module = spec.build(spec.params.model_validate({"epsilon": 0.0, "loss_scale": 3.0}), 4, 8)
    e, y = torch.randn(8, 8), torch.arange(4).repeat(2)
    expected = 3.0 * torch.nn.functional.cross_entropy(module.classifier(e), y)
    torch.testing.assert_close(module(e, y), expected)
    assert module.classifier is module.inner.classifier
    assert set(module.param_groups()) == {"loss"}  # the classifier: no decay by default


def test_params_typo_refused_at_load_naming_the_constructor(cli, user_folder):
    path = suite(user_folder, [{"name": "./poly_loss.py:PolyLoss", "params": {"epsilonn": 2.0}}])
    result = cli("compare", "--suite", path, "--json")
    assert result.exit_code == 2
    err = result.stderr.strip()
    assert err.count("\n") == 0 and "epsilonn" in err and "PolyLoss(epsilon=1.0)" in err
    assert "did you mean 'epsilon'" in err


def test_missing_required_parameter_and_bad_classes(tmp_path):
    (tmp_path / "odd.py").write_text(textwrap.dedent("""
        from torch import nn
        class NeedsAlpha(nn.Module):
            def __init__(self, alpha: float, embedding_dim: int):
                super().__init__()
            def forward(self, embeddings, labels):
                return embeddings.sum() * 0
        class NotAModule:
            pass
        class BadFamily(NeedsAlpha):
            family = "proxy"
    """))
    spec = resolve_loss("./odd.py:NeedsAlpha", resolve_references(["./odd.py:NeedsAlpha"], tmp_path))
    with pytest.raises(ValueError, match=r"missing required parameter 'alpha'.*NeedsAlpha\(alpha\)"):
        spec.params.model_validate({})
    assert spec.params.model_validate({"alpha": 1}).alpha == 1.0
    with pytest.raises(UserError, match="nn.Module"):
        resolve_loss("./odd.py:NotAModule", resolve_references(["./odd.py:NotAModule"], tmp_path))
    with pytest.raises(UserError, match="family"):
        resolve_loss("./odd.py:BadFamily", resolve_references(["./odd.py:BadFamily"], tmp_path))
    with pytest.raises(UserError, match="did you mean 'NeedsAlpha'"):
        resolve_loss("./odd.py:NeedsAlpa", resolve_references(["./odd.py:NeedsAlpa"], tmp_path))
    with pytest.raises(UserError, match="no file"):
        resolve_loss("./nowhere.py:X", resolve_references(["./nowhere.py:X"], tmp_path))


def test_module_and_entry_point_forms(tmp_path, monkeypatch):
    shutil.copy(EXAMPLE, tmp_path / "poly_loss.py")
    (tmp_path / "nets.py").write_text(NETS)
    dist = tmp_path / "fake_plugins-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-plugins\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[modbench.losses]\npoly = poly_loss:PolyLoss\n\n[modbench.backbones]\ntiny-net = nets:TinyNet\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins.entry_point_names.cache_clear()
    try:
        assert resolve_loss("poly_loss:PolyLoss").family == "softmax"
        assert "poly" in plugins.entry_point_names("modbench.losses")
        assert resolve_loss("poly").params.model_validate({}).epsilon == 1.0
        from modbench.backbones import BACKBONES, backbone_names

        assert BACKBONES.knows("tiny-net") and "tiny-net" not in BACKBONES  # no built-in entry
        assert "tiny-net" in backbone_names()
        net = BACKBONES.get("tiny-net")(in_channels=1, image_size=8, pretrained=False)
        assert net(torch.zeros(3, 1, 8, 8)).shape == (3, net.out_features)
    finally:
        plugins.entry_point_names.cache_clear()


NETS = '''
import torch
from torch import nn


class TinyNet(nn.Module):
    """A user's backbone: told the input channels and image size, maps [B, C, H, W] to [B, F]."""

    def __init__(self, in_channels: int, image_size: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(in_channels, 8, 3, padding=1), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(2), nn.Flatten())
        self.size = image_size

    def forward(self, images):
        return self.body(images)  # 8 * 2 * 2 = 32 features, measured by modbench
'''


@pytest.mark.parametrize("backbone", ["./nets.py:TinyNet", "timm:resnet18"])
def test_user_and_timm_backbones_train_on_digits(cli, tmp_path, monkeypatch, cache_dir, backbone):
    if backbone.startswith("timm:"):
        pytest.importorskip("timm")
    (tmp_path / "nets.py").write_text(NETS)
    monkeypatch.chdir(tmp_path)
    path = suite(tmp_path, [{"name": "cross-entropy"}], backbone=backbone)
    result = cli("compare", "--suite", path, "--json", "--cache-dir", cache_dir, "--device", "cpu")
    assert result.exit_code == 0, result.stderr
    (record,) = [r for r in json.loads(result.stdout) if r.get("status")]
    assert record["status"] == "done" and 0 <= record["nmi"] <= 1


def test_timm_stem_adapted_to_small_images_and_listing():
    pytest.importorskip("timm")
    from modbench.backbones import BACKBONES, backbone_names

    net = BACKBONES.get("timm:resnet18")(in_channels=1, image_size=8, pretrained=False)
    assert net.small_stem and net.conv1.stride == (1, 1) and isinstance(net.maxpool, torch.nn.Identity)
    assert net(torch.zeros(2, 1, 8, 8)).shape == (2, 512) and net.out_features == 512
    big = BACKBONES.get("timm:resnet18")(in_channels=3, image_size=96, pretrained=False)
    assert big.conv1.stride == (2, 2)
    names = backbone_names("timm:*resnet*")
    assert "timm:resnet18" in names and all(n.startswith("timm:") and "resnet" in n for n in names)
    with pytest.raises(UserError, match="unknown backbone 'timm:resnet1888'"):
        BACKBONES.get("timm:resnet1888")(in_channels=1, image_size=8, pretrained=False)


def test_list_backbones_with_a_timm_pattern(cli):
    pytest.importorskip("timm")
    result = cli("list", "backbones", "timm:*resnet1*")
    assert result.exit_code == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines()[1:] if line.strip()]
    assert "timm:resnet18" in names and all(n.startswith("timm:") and "resnet1" in n for n in names)
    plain = cli("list", "backbones")
    assert "timm:<model>" in plain.stdout and "small-cnn" in plain.stdout and "modbench[timm]" in plain.stdout


def test_code_digest_follows_the_plugins_code_not_its_folder(tmp_path):
    from modbench.identity import code_digest, loss_source_files

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    shutil.copy(EXAMPLE, a / "poly_loss.py")
    shutil.copy(EXAMPLE, b / "poly_loss.py")
    digest = code_digest(loss_source_files("./poly_loss.py:PolyLoss", references=resolve_references(["./poly_loss.py:PolyLoss"], a)))
    assert digest == code_digest(loss_source_files("./poly_loss.py:PolyLoss", references=resolve_references(["./poly_loss.py:PolyLoss"], b)))
    (b / "poly_loss.py").write_text((b / "poly_loss.py").read_text().replace("epsilon: float = 1.0", "epsilon: float = 2.0"))
    edited = resolve_loss("./poly_loss.py:PolyLoss", resolve_references(["./poly_loss.py:PolyLoss"], b))
    assert code_digest(loss_source_files("./poly_loss.py:PolyLoss", references=resolve_references(["./poly_loss.py:PolyLoss"], b))) != digest
    assert edited.params.model_validate({}).epsilon == 2.0  # the edited file, not a stale import
    builtin = resolve_loss("improved").source_files
    assert [Path(f).name for f in builtin] == ["improved.py", "_common.py"]


def test_list_shows_descriptions_as_text_not_markup(cli):
    out = cli("list", "losses").stdout
    assert "softmax(-beta z)[y]" in out  # Rich would eat "[y]" as a markup tag
    assert "./file.py:Class" in out and "pml:ClassName" in out


def test_a_plugin_that_fails_to_import_is_one_line_exit_2(cli, tmp_path, monkeypatch):
    (tmp_path / "broken.py").write_text("import torch\nraise RuntimeError('oops\\nsecond line')\n")
    monkeypatch.chdir(tmp_path)
    path = suite(tmp_path, [{"name": "./broken.py:Loss"}])
    result = cli("compare", "--suite", path, "--json")
    assert result.exit_code == 2 and result.stdout == ""
    err = result.stderr.strip()
    assert err.count("\n") == 0 and "broken.py" in err and "RuntimeError: oops" in err
    assert "losses[0].name" in err


def test_user_backbone_contract_errors(tmp_path):
    (tmp_path / "nets.py").write_text(NETS + textwrap.dedent('''
        class Flat(nn.Module):
            def forward(self, images):
                return images  # [B, C, H, W]: not features
        def not_a_module(in_channels):
            return 3
    '''))
    from modbench.backbones import resolve_backbone

    net = resolve_backbone("./nets.py:TinyNet", resolve_references(["./nets.py:TinyNet"], tmp_path))(in_channels=3, image_size=8, pretrained=False)
    assert net.out_features == 32 and net.size == 8  # told the image size; F measured
    with pytest.raises(UserError, match="pretrained"):
        resolve_backbone("./nets.py:TinyNet", resolve_references(["./nets.py:TinyNet"], tmp_path))(in_channels=3, image_size=8, pretrained=True)
    with pytest.raises(UserError, match=r"\[B, F\]"):
        resolve_backbone("./nets.py:Flat", resolve_references(["./nets.py:Flat"], tmp_path))(in_channels=1, image_size=8, pretrained=False)
    with pytest.raises(UserError, match="not an nn.Module"):
        resolve_backbone("./nets.py:not_a_module", resolve_references(["./nets.py:not_a_module"], tmp_path))(in_channels=1, image_size=8, pretrained=False)
    assert plugins.backbone_source_files("./nets.py:TinyNet", resolve_references(["./nets.py:TinyNet"], tmp_path)) == (str((tmp_path / "nets.py").resolve()),)


def test_backbone_file_relative_to_the_suite_checked_at_load(cli, tmp_path, monkeypatch, cache_dir):
    """The suite in one folder, the command run from another: the backbone file is found beside
    the suite, and a missing one is refused at load, naming the key."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "nets.py").write_text(NETS)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    path = suite(project, [{"name": "cross-entropy"}], backbone="./nets.py:TinyNet")
    result = cli("compare", "--suite", path, "--json", "--cache-dir", cache_dir, "--device", "cpu")
    assert result.exit_code == 0, result.stderr
    bad = suite(project, [{"name": "cross-entropy"}], backbone="./nts.py:TinyNet", name="bad.yaml")
    result = cli("compare", "--suite", bad, "--json", "--cache-dir", cache_dir)
    assert result.exit_code == 2 and "backbone.name" in result.stderr and "nts.py" in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_references_are_resolved_once_at_load_and_travel_with_the_runs(user_folder, tmp_path, monkeypatch):
    """A relative plugin file is resolved against the suite's folder when the suite is loaded;
    the runs carry the resolved file (also through pickle, to a worker), and nothing in the
    process remembers it for a bare name: resolved later without the suite's references, the
    name is relative to the current directory."""
    import pickle

    from modbench.suite.loader import load_suite
    from modbench.suite.runs import resolve_runs

    name = "./poly_loss.py:PolyLoss"
    path = suite(user_folder, [{"name": name, "label": "Poly-1"}], backbone="small-cnn")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # not the suite's folder
    loaded, source = load_suite(str(path))
    assert loaded.references == {name: plugins.PluginRef(name, (user_folder / "poly_loss.py").resolve())}
    (run,) = resolve_runs(loaded, source)
    worker_run = pickle.loads(pickle.dumps(run))
    assert worker_run.references == loaded.references and worker_run.key == run.key
    assert resolve_loss(name, worker_run.references).family == "softmax"
    with pytest.raises(plugins.PluginError, match=r"no file .*elsewhere/poly_loss\.py"):
        resolve_loss(name)  # no module-level memory of the suite's folder
    assert not hasattr(plugins, "_RESOLVED")
