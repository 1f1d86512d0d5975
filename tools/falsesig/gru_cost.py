#!/usr/bin/python3
"""What one pass of an FSDop-sized recurrent model costs on this CPU.

Forward + backward + Adam step of a 3-layer bidirectional GRU (hidden 24, 7 inputs: the size
of the authors' FSDop layers) over 20 sequences of 4000 4-Hz samples, one thread.  Prints
4-Hz samples per second and the minutes one pass over the 591 Train recordings (371 h)
takes.  Usage: /usr/bin/python3 tools/falsesig/gru_cost.py   (Debian python3-torch)
"""
import time

import torch

torch.set_num_threads(1)
B, T = 20, 4000
x = torch.randn(B, T, 7)
net = torch.nn.GRU(7, 24, num_layers=3, bidirectional=True, batch_first=True)
head = torch.nn.Linear(48, 1)
opt = torch.optim.Adam(list(net.parameters()) + list(head.parameters()))
best = 0.0
for _ in range(3):
    t0 = time.time()
    y, _ = net(x)
    loss = head(y).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    best = max(best, B * T / (time.time() - t0))
n = 371 * 3600 * 4
print("%.0f samples/s on one thread; one pass over 371 h = %.1f min" % (best, n / best / 60))
