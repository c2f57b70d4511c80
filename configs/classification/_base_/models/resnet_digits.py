# A narrow, shallow CIFAR-style ResNet for 16x16 single-channel digits.
model = dict(
    type="ImageClassifier",
    label_smoothing=0.1,
    backbone=dict(
        type="CifarResNet", num_classes=10, in_channels=1, base_width=16, blocks=(1, 1, 1, 1)
    ),
)
