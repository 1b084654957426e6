"""udmt's Adam against torch.optim.Adam: the same parameters bit for bit, and no torch._dynamo import."""

import subprocess
import sys

import torch

from udmt.optim import Adam


def _train(make_optimiser, steps: int = 25) -> list[torch.Tensor]:
    torch.manual_seed(3)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(144, 2))
    unused = torch.nn.Parameter(torch.ones(3))  # never gets a gradient: no state, no update
    optimiser = make_optimiser([*net.parameters(), unused])
    gen = torch.Generator().manual_seed(5)
    for _ in range(steps):
        x = torch.randn(8, 1, 8, 8, generator=gen)
        loss = net(x).square().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return [p.detach().clone() for p in [*net.parameters(), unused]]


def test_adam_matches_torch_bit_for_bit():
    ours = _train(lambda params: Adam(params, lr=3e-3))
    theirs = _train(lambda params: torch.optim.Adam(params, lr=3e-3))
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs))
    assert torch.equal(ours[-1], torch.ones(3))
    first = _train(lambda params: Adam(params, lr=3e-3), steps=0)
    assert not torch.equal(ours[0], first[0])  # it did train


def test_adam_does_not_import_dynamo():
    code = ("import sys, torch; from udmt.optim import Adam; p = torch.nn.Parameter(torch.ones(2)); o = Adam([p], 0.1);"
            "p.sum().backward(); o.step(); assert 'torch._dynamo' not in sys.modules and p[0] < 1")
    subprocess.run([sys.executable, "-c", code], check=True)
