_base_ = ["./_base_/digits.py", "./_base_/optimizers/esam.py"]
