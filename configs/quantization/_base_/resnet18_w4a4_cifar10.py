# Everything of a quantized ResNet-18 run on CIFAR10 except the optimizer.
_base_ = [
    "./models/quant_resnet18.py",
    "../../classification/_base_/datasets/cifar10.py",
    "../../classification/_base_/schedules/cifar_200e.py",
    "./default_runtime.py",
]
