"""Writes the small TorchScript modules of the torchscript tests into a directory.

Usage: python3 make_torchscript_models.py OUT_DIR

Files (all torch.jit.script of tiny modules, fixed seed):
  mlp_bn.pt       flatten -> Linear(784, 16) -> BatchNorm1d -> ReLU -> Linear(16, 10)  (Fashion-MNIST shape)
  mlp_bn_small.pt the same on 6 features: Linear(6, 5) -> BatchNorm1d -> ReLU -> Linear(5, 3)
  conv_bn.pt      Conv2d(1, 4, 3) -> BatchNorm2d -> ReLU -> max_pool2d -> named submodules in a
                  Sequential `layer1` -> Linear(4*13*13, 10)
  bad_output.pt   returns [N, 3] for 10-class inputs
  tuple_output.pt returns a tuple (logits, logits)
  no_params.pt    no parameters (a fixed projection held as a buffer)
  cdist.pt        distances to learned prototypes by torch.cdist, whose double backward libtorch lacks
  round.pt        the logits pass through torch.round (a gradient that no longer depends on the weights)
  tied.pt         one Linear under two names (mid and again), applied twice
  state_dict.pt   torch.save of mlp_bn's state_dict (not a TorchScript archive)
and mlp_bn_small.txt: its state_dict, one line per tensor: "name numel v0 v1 ..." (float64 repr).
"""
import os
import sys

import torch
from torch import nn


class MlpBn(nn.Module):
    def __init__(self, d_in, hidden, classes):
        super().__init__()
        self.fc1 = nn.Linear(d_in, hidden)
        self.bn = nn.BatchNorm1d(hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x):
        x = x.flatten(1)
        return self.fc2(torch.relu(self.bn(self.fc1(x))))


class ConvBn(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer1 = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
        self.head = nn.Linear(4 * 13 * 13, 10)

    def forward(self, x):
        x = torch.nn.functional.max_pool2d(self.layer1(x), 2)
        return self.head(x.flatten(1))


class BadOutput(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(784, 3)

    def forward(self, x):
        return self.fc(x.flatten(1))


class TupleOutput(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(784, 10)

    def forward(self, x):
        y = self.fc(x.flatten(1))
        return y, y


class NoParams(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("proj", torch.randn(784, 10))

    def forward(self, x):
        return x.flatten(1) @ self.proj


class Cdist(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(784, 8)
        self.prototypes = nn.Parameter(torch.randn(10, 8))

    def forward(self, x):
        return -torch.cdist(self.fc(x.flatten(1)), self.prototypes)


class Round(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 8)
        self.fc2 = nn.Linear(8, 10)

    def forward(self, x):
        return self.fc2(torch.round(self.fc1(x.flatten(1))))


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(784, 16)
        self.mid = nn.Linear(16, 16)
        self.again = self.mid
        self.head = nn.Linear(16, 10)

    def forward(self, x):
        h = torch.relu(self.mid(torch.relu(self.enc(x.flatten(1)))))
        return self.head(torch.relu(self.again(h)))


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    mlp = MlpBn(784, 16, 10)
    torch.jit.save(torch.jit.script(mlp), os.path.join(out, "mlp_bn.pt"))
    torch.save(mlp.state_dict(), os.path.join(out, "state_dict.pt"))
    small = MlpBn(6, 5, 3)
    with torch.no_grad():
        small.bn.running_mean.uniform_(-0.5, 0.5)
        small.bn.running_var.uniform_(0.5, 2.0)
        small.bn.weight.uniform_(0.5, 1.5)
        small.bn.bias.uniform_(-0.5, 0.5)
    torch.jit.save(torch.jit.script(small), os.path.join(out, "mlp_bn_small.pt"))
    with open(os.path.join(out, "mlp_bn_small.txt"), "w") as f:
        for k, v in small.state_dict().items():
            values = v.double().flatten().tolist()
            f.write(" ".join([k, str(len(values))] + [repr(x) for x in values]) + "\n")
    for name, module in [("conv_bn", ConvBn()), ("bad_output", BadOutput()), ("tuple_output", TupleOutput()),
                         ("no_params", NoParams()), ("cdist", Cdist()), ("round", Round()), ("tied", Tied())]:
        torch.jit.save(torch.jit.script(module), os.path.join(out, name + ".pt"))


if __name__ == "__main__":
    main(sys.argv[1])
