model = dict(
    type="ImageClassifier",
    label_smoothing=0.1,
    backbone=dict(type="CifarResNet", num_classes=10, base_width=64, blocks=(2, 2, 2, 2)),
)
