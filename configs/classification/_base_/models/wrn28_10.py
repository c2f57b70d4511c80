model = dict(
    type="ImageClassifier",
    label_smoothing=0.1,
    backbone=dict(type="WideResNet", num_classes=10, depth=28, widen_factor=10, dropout=0.0),
)
