model = dict(
    type="ImageClassifier",
    label_smoothing=0.1,
    backbone=dict(type="PyramidNet", num_classes=10, depth=110, alpha=270),
)
