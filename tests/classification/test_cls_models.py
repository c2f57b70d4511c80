"""Networks, the MMEngine model, its loss, data preprocessor and accuracy metric."""

import math

import pytest
import torch
from mmengine.registry import METRICS, MODELS

import arsam.tasks.classification  # noqa: F401
from arsam.tasks.classification import TOP1_KEY


def _count_on_meta(cfg: dict) -> int:
    with torch.device("meta"):
        model = MODELS.build(cfg)
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("cfg", "millions"),
    [
        (dict(type="CifarResNet", num_classes=10), 11.17),
        (dict(type="WideResNet", num_classes=10, depth=28, widen_factor=10), 36.48),
        (dict(type="PyramidNet", num_classes=10, depth=110, alpha=270), 28.49),
        (dict(type="PyramidNet", num_classes=100, depth=110, alpha=270), 28.51),
    ],
)
def test_full_size_parameter_counts(cfg, millions):
    assert _count_on_meta(cfg) / 1e6 == pytest.approx(millions, abs=0.01)


@pytest.mark.parametrize(
    "cfg",
    [
        dict(type="CifarResNet", base_width=8, blocks=(1, 1, 1, 1)),
        dict(type="WideResNet", depth=10, widen_factor=1, dropout=0.3),
        dict(type="PyramidNet", depth=8, alpha=12),
    ],
)
@pytest.mark.parametrize(("num_classes", "in_channels"), [(10, 3), (100, 3), (10, 1)])
def test_reduced_models_output_shape(cfg, num_classes, in_channels):
    model = MODELS.build({**cfg, "num_classes": num_classes, "in_channels": in_channels})
    logits = model(torch.randn(2, in_channels, 32, 32))
    assert logits.shape == (2, num_classes)
    assert torch.isfinite(logits).all()


def test_pyramidnet_widens_additively_with_zero_padded_shortcut():
    model = MODELS.build(dict(type="PyramidNet", depth=20, alpha=48))
    widths = [block.conv2.out_channels for block in model.blocks]
    assert widths == [round(16 + 48 / 9 * (i + 1)) for i in range(9)]
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(conv.kernel_size == (3, 3) for conv in convs)


def _smoothed_cross_entropy_by_hand(logits: torch.Tensor, labels: torch.Tensor, smoothing: float):
    total = 0.0
    for row, label in zip(logits.tolist(), labels.tolist(), strict=True):
        log_z = math.log(sum(math.exp(v) for v in row))
        target = [smoothing / len(row) + (1 - smoothing) * (i == label) for i in range(len(row))]
        total -= sum(t * (v - log_z) for t, v in zip(target, row, strict=True))
    return total / len(labels)


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_classifier_loss_is_label_smoothed_cross_entropy(smoothing):
    torch.manual_seed(0)
    model = _classifier(smoothing)
    inputs, labels = torch.randn(3, 3, 32, 32), torch.tensor([0, 4, 9])
    logits = model(inputs, mode="tensor")
    loss = model(inputs, labels, mode="loss")["loss"]
    expected = _smoothed_cross_entropy_by_hand(logits, labels, smoothing)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_classifier_refuses_a_smoothing_outside_0_1():
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\), got 1.0") as error:
        _classifier(1.0)
    assert "model.label_smoothing" in str(error.value) and "\n" not in str(error.value)


def _classifier(smoothing: float = 0.1):
    return MODELS.build(
        dict(
            type="ImageClassifier",
            label_smoothing=smoothing,
            backbone=dict(type="CifarResNet", num_classes=10, base_width=4, blocks=(1, 1, 1, 1)),
            data_preprocessor=dict(type="ClsDataPreprocessor", mean=[10.0] * 3, std=[2.0] * 3),
        )
    )


def test_image_classifier_modes_and_preprocessor():
    torch.manual_seed(0)
    model = _classifier()
    images = [torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8) for _ in range(4)]
    batch = model.data_preprocessor({"inputs": images, "labels": [1, 2, 3, 4]}, training=True)
    assert batch["inputs"].dtype == torch.float32 and batch["inputs"].shape == (4, 3, 32, 32)
    assert torch.allclose(batch["inputs"][0], (images[0].float() - 10.0) / 2.0)
    assert batch["labels"].tolist() == [1, 2, 3, 4]

    logits = model(batch["inputs"], mode="tensor")
    assert logits.shape == (4, 10)
    loss = model(**batch, mode="loss")["loss"]
    expected = _smoothed_cross_entropy_by_hand(logits, batch["labels"], 0.1)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    predictions = model(**batch, mode="predict")
    assert [p["gt_label"] for p in predictions] == [1, 2, 3, 4]
    assert [p["pred_label"] for p in predictions] == logits.argmax(1).tolist()
    with pytest.raises(ValueError, match="mode"):
        model(batch["inputs"], mode="bogus")


def test_image_classifier_train_step_with_stacked_batch():
    from mmengine.optim import OptimWrapper

    model = _classifier()
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    data = {"inputs": torch.zeros(2, 3, 32, 32, dtype=torch.uint8), "labels": torch.tensor([0, 1])}
    log_vars = model.train_step(data, wrapper)
    assert math.isfinite(float(log_vars["loss"].detach()))
    outputs = model.val_step(data)
    assert len(outputs) == 2


def test_accuracy_metric_reports_top1_and_top5():
    metric = METRICS.build(dict(type="Accuracy", topk=(1, 5)))
    eye = torch.eye(10)
    samples = [{"scores": eye[i], "gt_label": i} for i in range(6)]
    samples += [{"scores": 2 * eye[i] + eye[0], "gt_label": 0} for i in (6, 7)]
    metric.process({}, samples)
    results = metric.evaluate(8)
    assert TOP1_KEY == "accuracy/top1"
    assert results[TOP1_KEY] == pytest.approx(100 * 6 / 8)
    assert results["accuracy/top5"] == pytest.approx(100.0)


def test_accuracy_metric_matches_a_count_and_caps_k_at_the_classes():
    torch.manual_seed(0)
    scores, labels = torch.randn(50, 10), torch.randint(0, 10, (50,))
    metric = METRICS.build(dict(type="Accuracy", topk=(3, 1, 20)))
    metric.process({}, [{"scores": s, "gt_label": int(y)} for s, y in zip(scores, labels)])
    results = metric.evaluate(50)
    ranked = scores.argsort(dim=1, descending=True)
    for k in (1, 3):
        hits = sum(int(y) in ranked[i, :k].tolist() for i, y in enumerate(labels))
        assert results[f"accuracy/top{k}"] == pytest.approx(100 * hits / 50)
    assert results["accuracy/top20"] == pytest.approx(100.0)
