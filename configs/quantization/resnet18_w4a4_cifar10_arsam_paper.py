_base_ = ["./_base_/resnet18_w4a4_cifar10.py", "./_base_/optimizers/arsam_paper.py"]
