# MMPose's plain Adam. A pose leaf config takes it with
#   optim_wrapper = dict(_delete_=True, **_base_.pose_optim_wrapper)
# (MMPose's recipe already defines optim_wrapper, so the fragment names its block differently).
pose_optim_wrapper = dict(type="OptimWrapper", optimizer=dict(type="Adam", lr=5e-4))
