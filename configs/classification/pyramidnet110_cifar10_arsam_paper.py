_base_ = [
    "./_base_/models/pyramidnet110.py",
    "./_base_/datasets/cifar10.py",
    "./_base_/schedules/cifar_200e.py",
    "./_base_/default_runtime.py",
    "./_base_/optimizers/arsam_paper.py",
]
