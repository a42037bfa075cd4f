"""PyTorch reference for the one-epoch accuracy of the no-BN Fashion-MNIST MLP.

Trains the original study's MLP (784-512-256-128-10, PyTorch default initialisation, plain SGD
lr 0.1, batch 128, mean cross-entropy, data normalised as (x/255 - 0.2860)/0.3530, shuffled by
DataLoader(shuffle=True) as the original notebooks did) for one epoch per seed and prints
"seed test_accuracy". bnlandscape's --seed s draws the same initial weights and batches, so the
two columns of bench/run_accuracy_seeds.sh are the same runs up to float rounding.

    /usr/bin/python3 bench/one_epoch_accuracy.py FIRST_SEED END_SEED
"""
import gzip, sys, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
torch.set_num_threads(1)
D="/usr/share/datasets/fashion-mnist/"
def imgs(f): return np.frombuffer(gzip.open(D+f).read(), np.uint8, offset=16).reshape(-1, 784)
def labs(f): return np.frombuffer(gzip.open(D+f).read(), np.uint8, offset=8)
xtr=torch.tensor((imgs("train-images-idx3-ubyte.gz")/255.0-0.2860)/0.3530, dtype=torch.float32)
ytr=torch.tensor(labs("train-labels-idx1-ubyte.gz").astype(np.int64))
xte=torch.tensor((imgs("t10k-images-idx3-ubyte.gz")/255.0-0.2860)/0.3530, dtype=torch.float32)
yte=torch.tensor(labs("t10k-labels-idx1-ubyte.gz").astype(np.int64))
for seed in range(int(sys.argv[1]), int(sys.argv[2])):
    torch.manual_seed(seed)
    net=nn.Sequential(nn.Linear(784,512),nn.ReLU(),nn.Linear(512,256),nn.ReLU(),nn.Linear(256,128),nn.ReLU(),nn.Linear(128,10))
    opt=torch.optim.SGD(net.parameters(), lr=0.1)
    for xb,yb in DataLoader(TensorDataset(xtr,ytr), batch_size=128, shuffle=True):
        opt.zero_grad(); F.cross_entropy(net(xb),yb).backward(); opt.step()
    with torch.no_grad(): acc=(net(xte).argmax(1)==yte).float().mean().item()
    print(seed, round(acc,4), flush=True)
