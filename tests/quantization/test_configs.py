"""The quantization configs: imports, optimizer-only variants, full-size models."""

import pytest
from mmengine.config import Config
from mmengine.registry import MODELS

from arsam.tasks.quantization import load_float_weights

from .helpers import CONFIG_DIR

RUNS = [
    "resnet18_w4a4_cifar10",
    "resnet18_w4a4_cifar100",
    "resnet18_w2a2_cifar10",
    "resnet18_w2a2_cifar100",
    "digits_w4a4",
]
OPTIMIZERS = ["sgd", "sam", "arsam", "arsam_paper"]
IMPORTS = ["arsam.core.mmengine_adapter", "arsam.tasks.classification", "arsam.tasks.quantization"]


def _load(name: str) -> Config:
    return Config.fromfile(str(CONFIG_DIR / f"{name}.py"))


def test_every_config_is_listed():
    listed = {f"{run}_{opt}.py" for run in RUNS for opt in OPTIMIZERS}
    assert {path.name for path in CONFIG_DIR.glob("*.py")} == listed


@pytest.mark.parametrize("run", RUNS)
def test_variants_differ_only_in_the_optimizer(run):
    configs = {opt: _load(f"{run}_{opt}") for opt in OPTIMIZERS}
    for cfg in configs.values():
        assert cfg.custom_imports == dict(imports=IMPORTS, allow_failed_imports=False)
    plain = {
        opt: {k: v for k, v in cfg.to_dict().items() if k != "optim_wrapper"}
        for opt, cfg in configs.items()
    }
    assert plain["sgd"] == plain["sam"] == plain["arsam"] == plain["arsam_paper"]
    assert configs["sgd"].optim_wrapper.type == "OptimWrapper"
    assert configs["sam"].optim_wrapper.optimizer.type == "SAM"
    assert configs["arsam"].optim_wrapper.optimizer.type == "ARSAM"
    assert configs["arsam_paper"].optim_wrapper.optimizer.type == "ARSAMPaper"
    # ARSAM plans its own schedule from the run's length; the paper's settings are the paper
    # variant's, and both perturb like SAM.
    arsam, paper = (configs[opt].optim_wrapper for opt in ("arsam", "arsam_paper"))
    assert set(arsam.optimizer) == {"type", "base_optimizer", "rho"}
    assert paper.optimizer.warmup_epochs == (1 if run.startswith("digits") else 3)
    sam = configs["sam"].optim_wrapper
    for wrapper in (arsam, paper):
        assert wrapper.exclude_from_perturbation == sam.exclude_from_perturbation
        assert wrapper.paramwise_cfg == sam.paramwise_cfg


@pytest.mark.parametrize(
    ("run", "bits", "classes"),
    [
        ("resnet18_w4a4_cifar10", 4, 10),
        ("resnet18_w4a4_cifar100", 4, 100),
        ("resnet18_w2a2_cifar10", 2, 10),
        ("resnet18_w2a2_cifar100", 2, 100),
    ],
)
def test_cifar_runs_configure_bits_classes_and_data(run, bits, classes):
    cfg = _load(f"{run}_arsam")
    backbone = cfg.model.backbone
    assert backbone.type == "QuantCifarResNet"
    assert (backbone.weight_bits, backbone.act_bits) == (bits, bits)
    assert (backbone.edge_bits, backbone.num_classes, backbone.blocks) == (8, classes, (2, 2, 2, 2))
    dataset = "CIFAR100Dataset" if classes == 100 else "CIFAR10Dataset"
    assert cfg.train_dataloader.dataset.type == dataset


def test_full_size_quantized_resnet18_loads_the_float_resnet18_of_classification():
    float_cfg = Config.fromfile(
        str(CONFIG_DIR.parent / "classification" / "_base_" / "models" / "resnet18.py")
    )
    float_model = MODELS.build(float_cfg.model)
    quant_cfg = _load("resnet18_w2a2_cifar10_sgd")
    model = MODELS.build(quant_cfg.model)
    loaded = load_float_weights(model.backbone, float_model.state_dict())
    assert len(loaded) == len(float_model.backbone.state_dict())
