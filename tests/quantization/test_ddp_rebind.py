"""A load that rebuilds Brevitas' scales leaves DDP all-reducing the model's own parameters.

One gloo process (world size 1) in this process: the DDP wrapper's communication hook
records every parameter whose gradient it all-reduces, which is what a second rank would
average with.
"""

import copy
from types import SimpleNamespace

import pytest
import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.logging import MMLogger
from torch import nn

import arsam.core.mmengine_adapter  # noqa: F401  (registers CPUDistributedDataParallel)
from arsam.core import SAM
from arsam.core.mmengine_adapter import SAMOptimWrapper
from arsam.core.training_infra.distributed import CPUDistributedDataParallel
from arsam.core.training_infra.rebind import ParameterRebindHook

from .helpers import batch, scale_parameters, tiny_net


@pytest.fixture
def one_process_group(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """A gloo process group of this process alone, destroyed afterwards."""
    monkeypatch.setenv("LOCAL_RANK", "0")
    store = tmp_path / "store"
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


def all_reduced_parameters(ddp: nn.Module) -> set[int]:
    """Install a communication hook on ``ddp``; the ids of the parameters it reduces."""
    reduced: set[int] = set()

    def hook(state: object, bucket: dist.GradBucket) -> torch.futures.Future[torch.Tensor]:
        reduced.update(id(p) for p in bucket.parameters())
        work = dist.all_reduce(bucket.buffer(), async_op=True)
        return work.get_future().then(lambda future: future.value()[0])

    ddp.register_comm_hook(None, hook)
    return reduced


def test_a_load_that_replaces_scales_rebuilds_the_ddp_wrapper(one_process_group) -> None:
    net = tiny_net()
    x, y = batch()
    optimizer = SAM(net.parameters(), torch.optim.SGD, lr=0.1, momentum=0.9)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(net(x), y)
        loss.backward()
        return loss

    optimizer.step(closure)  # scales initialised, momentum buffers in the base optimizer
    checkpoint = copy.deepcopy(net.state_dict())
    ddp = CPUDistributedDataParallel(module=net)
    wrapper = SAMOptimWrapper(optimizer)
    wrapper.bind_model(ddp)
    runner = SimpleNamespace(
        model=ddp,
        optim_wrapper=wrapper,
        cfg=Config(dict(model_wrapper_cfg=dict(type="CPUDistributedDataParallel"))),
        logger=MMLogger.get_current_instance(),
    )
    hook = ParameterRebindHook()
    hook.before_run(runner)
    scales_before = scale_parameters(net)
    net.load_state_dict(checkpoint)  # Brevitas rebuilds its quantizers, and their scales
    scales = scale_parameters(net)
    assert scales and all(scales[name] is not p for name, p in scales_before.items())

    hook.before_train(runner)
    assert runner.model is not ddp and runner.model.module is net
    assert wrapper._model is runner.model  # the wrapper re-runs forwards through the new one
    parameters = {id(p) for p in net.parameters()}
    assert {id(p) for p in optimizer.param_groups[0]["params"]} == parameters
    assert {id(p) for p in optimizer.base_optimizer.state} <= parameters
    assert len(optimizer.base_optimizer.state) == len(parameters)
    optimizer.state_dict()  # every state entry belongs to a parameter of the groups
    reduced = all_reduced_parameters(runner.model)
    nn.functional.cross_entropy(runner.model(x), y).backward()
    with_grad = {id(p) for p in net.parameters() if p.grad is not None}
    assert {id(p) for p in scales.values()} <= with_grad
    assert with_grad <= reduced
