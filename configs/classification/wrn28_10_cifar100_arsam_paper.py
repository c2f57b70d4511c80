_base_ = [
    "./_base_/models/wrn28_10.py",
    "./_base_/datasets/cifar100.py",
    "./_base_/schedules/cifar_200e.py",
    "./_base_/default_runtime.py",
    "./_base_/optimizers/arsam_paper.py",
]

model = dict(backbone=dict(num_classes=100))
