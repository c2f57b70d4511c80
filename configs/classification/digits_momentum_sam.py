_base_ = ["./_base_/digits.py", "./_base_/optimizers/momentum_sam.py"]
