_base_ = ["./_base_/digits_w4a4.py", "./_base_/optimizers/arsam.py"]
