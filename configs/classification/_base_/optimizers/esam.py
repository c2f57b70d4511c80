# ESAM through MMEngine: stochastic weight perturbation (beta) on every step. Its data selection
# (gamma < 1) needs one loss per sample, which MMEngine's train step does not give: gamma=1.0
# here (the plain PyTorch closure of core/esam.py's docstring runs the selection).
_base_ = ["./sam.py"]

optim_wrapper = dict(optimizer=dict(type="ESAM", beta=0.6, gamma=1.0))
