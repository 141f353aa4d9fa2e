"""The linear recurrence of the scan cells, h_t = a_t * h_{t-1} + b_t, four ways: forward and backward time.

    python -m benchmarks.scan [--threads 1] [--batch 64 --steps 64 --hidden 512]

In one process, alternating, best of 5 each, float32 on the char-RNN's window (default: batch
64, 64 steps, hidden 512, one layer's recurrence):
- `linear_scan`: stages.lib.scan_cells.LinearScan, what the cells use (time-major, one fused
  multiply-add per step forward and backward, hand-written backward);
- `linear_scan_batch_first`: the same loop on batch-first tensors, a step's slice strided;
- `autograd_loop`: the same recurrence step by step through autograd;
- `log_space`: the cumulative formulation of minGRU's paper, h_t = exp(L_t) * sum_s b_s exp(-L_s)
  with L = cumsum(log a), through logcumsumexp (split by sign, as b may be negative);
- `doubling`: Hillis-Steele: log2(steps) rounds of whole-window products.
Prints each one's milliseconds and its largest deviation from a float64 reference, then one JSON
object on the last line.
"""

import argparse
import json
import time

import torch

from stages.lib.scan_cells import linear_scan


def batch_first_scan(a, b, h0):
    """LinearScan on time-major views of batch-first [batch, time, hidden] tensors: each step's slice is strided."""
    return linear_scan(a.transpose(0, 1), b.transpose(0, 1), h0)


def autograd_loop(a, b, h0):
    h, outputs = h0, []
    for a_t, b_t in zip(a.unbind(0), b.unbind(0)):
        h = torch.addcmul(b_t, a_t, h)
        outputs.append(h)
    return torch.stack(outputs)


def log_space(a, b, h0):
    log_a = torch.cat([torch.zeros_like(a[:1]), torch.cumsum(torch.log(a), 0)])  # L_0 = 0 for h0
    values = torch.cat([h0[None], b])
    tiny = torch.finfo(values.dtype).tiny
    parts = []
    for sign in (1, -1):
        signed = sign * values
        log_values = torch.where(signed > 0, torch.log(signed.clamp_min(tiny)), float("-inf"))
        parts.append(torch.exp(log_a + torch.logcumsumexp(log_values - log_a, 0)))
    return (parts[0] - parts[1])[1:]


def doubling(a, b, h0):
    a = torch.cat([torch.zeros_like(a[:1]), a])
    b = torch.cat([h0[None], b])
    distance = 1
    while distance < b.shape[0]:
        b = torch.cat([b[:distance], torch.addcmul(b[distance:], a[distance:], b[:-distance])])
        a = torch.cat([a[:distance], a[distance:] * a[:-distance]])
        distance *= 2
    return b[1:]


WAYS = {"linear_scan": linear_scan, "linear_scan_batch_first": None, "autograd_loop": autograd_loop,
        "log_space": log_space, "doubling": doubling}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=512)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    shape = (args.steps, args.batch, args.hidden)
    a = torch.sigmoid(torch.randn(shape, generator=generator))
    b = torch.randn(shape, generator=generator)
    h0 = torch.randn(shape[1:], generator=generator)
    expected = autograd_loop(a.double(), b.double(), h0.double())
    a_batch_first, b_batch_first = a.transpose(0, 1).contiguous(), b.transpose(0, 1).contiguous()
    best = dict.fromkeys(WAYS, float("inf"))
    deviation = {}
    for _ in range(5):
        for name, scan in WAYS.items():
            if scan is None:
                inputs, scan = (a_batch_first, b_batch_first, h0), batch_first_scan
            else:
                inputs = (a, b, h0)
            leaves = [x.clone().requires_grad_() for x in inputs]
            began = time.perf_counter()
            outputs = scan(*leaves)
            outputs.sum().backward()
            best[name] = min(best[name], time.perf_counter() - began)
            deviation[name] = float((outputs.detach().double() - expected).abs().max())
    print(f"{'scan':<24} {'ms':>8} {'max |error|':>12}   (batch {args.batch}, {args.steps} steps, hidden {args.hidden}, {args.threads} thread(s))")
    for name in WAYS:
        print(f"{name:<24} {best[name] * 1e3:8.2f} {deviation[name]:12.2e}")
    print(json.dumps({**vars(args), **{f"{name}_ms": round(best[name] * 1e3, 3) for name in WAYS},
                      **{f"{name}_max_error": deviation[name] for name in WAYS}}))


if __name__ == "__main__":
    main()
