_base_ = ["./_base_/resnet18_w2a2_cifar10.py", "./_base_/optimizers/arsam_paper.py"]
