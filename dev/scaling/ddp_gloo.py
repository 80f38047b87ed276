"""PyTorch DistributedDataParallel (gloo, CPU) on GPT-2 124M, for docs/scaling-out.md's side-by-side with
`mpirun -np 2 zhiyu train` (BENCHMARKS.md, "Data-parallel training"). Same shape and work per step: random init,
global batch B rows × T tokens split over the ranks, forward, backward (gradients all-reduced by DDP's buckets,
overlapped with backward), AdamW(lr 1e-4, β 0.9/0.999, eps 1e-8, no weight decay), no clipping, no dropout.
Prints the median step's tokens/s over --steps steps after one warm-up step.
  python3 dev/scaling/ddp_gloo.py --ranks 2 --threads 1 --batch 4 --seq 64 --steps 6
"""
import argparse, json, os, statistics, time
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from transformers import GPT2Config, GPT2LMHeadModel

def worker(rank, a):
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29533")
    torch.set_num_threads(a.threads)
    dist.init_process_group("gloo", rank=rank, world_size=a.ranks)
    torch.manual_seed(0)
    cfg = GPT2Config(n_layer=12, n_embd=768, n_head=12, vocab_size=50257, n_positions=1024,
                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    model = torch.nn.parallel.DistributedDataParallel(GPT2LMHeadModel(cfg))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    per_rank = a.batch // a.ranks
    g = torch.Generator().manual_seed(1 + rank)
    times = []
    for step in range(a.steps + 1):
        ids = torch.randint(0, 50257, (per_rank, a.seq + 1), generator=g)
        t0 = time.perf_counter()
        out = model(input_ids=ids[:, :-1], labels=ids[:, :-1])
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        dt = time.perf_counter() - t0
        if step > 0:
            times.append(dt)
    if rank == 0:
        med = statistics.median(times)
        print(json.dumps({"peer": "pytorch-ddp-gloo", "torch": torch.__version__, "ranks": a.ranks, "threads": a.threads,
                          "batch": a.batch, "seq": a.seq, "median_step_s": med, "tokens_per_s": a.batch * a.seq / med}))
    dist.destroy_process_group()

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=4, help="global rows per step (split over the ranks)")
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--steps", type=int, default=6)
    a = ap.parse_args()
    mp.spawn(worker, args=(a,), nprocs=a.ranks)
