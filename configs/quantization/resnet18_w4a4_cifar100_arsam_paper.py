_base_ = ["./_base_/resnet18_w4a4_cifar100.py", "./_base_/optimizers/arsam_paper.py"]
