"""Run under torchrun by the distributed tests: loss and gradients of one step on a synthetic graph."""

import sys

import torch
import torch.distributed as dist

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _roc_graphs import planted_graph  # noqa: E402

from dawn.roc.runner import gradient_check  # noqa: E402

torch.set_num_threads(1)
out, partitioner = sys.argv[1], sys.argv[2]
models = sys.argv[3].split(",")
data = planted_graph(n=240, seed=3)
res = {m: gradient_check(data, m, partitioner=partitioner) for m in models}
if res[models[0]]["rank"] == 0:
    torch.save(res, out)
# leave the group together: a rank tearing gloo down while its peer still uses it aborts at exit
if dist.is_initialized():
    dist.barrier()
    dist.destroy_process_group()
