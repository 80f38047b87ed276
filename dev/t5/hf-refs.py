"""Reference outputs of transformers for the T5 test cases in ../shared/testdata/hf (t5_v1_0, t5_v1_1) that the
shared set does not hold: beam search (num_beams, length_penalty, early_stopping) and the training loss with its
gradients for given labels. Written to test/models/data/t5-hf-refs.json (small), read by test/models/t5-beam.test.ts
and test/train/t5-objective.test.ts.

usage: python3 dev/t5/hf-refs.py   (torch + transformers, the versions of ../shared/testdata/hf/README.md)
"""
import json, torch, transformers
from transformers import T5ForConditionalGeneration

torch.manual_seed(0)
torch.set_num_threads(1)
out = {"versions": {"torch": torch.__version__, "transformers": transformers.__version__}, "cases": {}}
for case in ["t5_v1_0", "t5_v1_1"]:
    d = f"../shared/testdata/hf/{case}"
    ref = json.load(open(f"{d}/reference.json"))
    model = T5ForConditionalGeneration.from_pretrained(f"{d}/model", dtype=torch.float32).eval()
    srcs = ref["inputs"]["encoder_input_ids"]
    beams = []
    greedy = {r["input"]: r["new_tokens"] for r in ref["generation"]["results"]}
    for settings in [dict(num_beams=4, length_penalty=1.0, early_stopping=False), dict(num_beams=4, length_penalty=0.5, early_stopping=True),
                     dict(num_beams=3, length_penalty=2.0, early_stopping=False), dict(num_beams=2, length_penalty=1.0, early_stopping=True)]:
        for i, src in enumerate(srcs):
            # eos 1 never comes up in 8 steps of these random models; a token greedy decoding produces as "eos" makes
            # beams finish early, so the length penalty and early stopping matter.
            for eos in [1, greedy[i][2]]:
                ids = torch.tensor([src])
                g = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=8, do_sample=False, decoder_start_token_id=0,
                                   eos_token_id=eos, pad_token_id=0, output_scores=True, return_dict_in_generate=True, **settings)
                beams.append({"input": i, **settings, "eos_token_id": eos, "max_new_tokens": 8, "sequence": g.sequences[0].tolist(),
                              "sequence_score": float(g.sequences_scores[0])})
    # Loss with labels: targets = the reference decoder inputs shifted left, ending in eos; padding -100.
    dec = ref["inputs"]["decoder_input_ids"]
    labels = [r[1:] + [1] for r in dec]
    s, t = max(map(len, srcs)), max(map(len, labels))
    ids = torch.tensor([r + [0] * (s - len(r)) for r in srcs])
    mask = torch.tensor([[1] * len(r) + [0] * (s - len(r)) for r in srcs])
    lab = torch.tensor([r + [-100] * (t - len(r)) for r in labels])
    model.train()  # dropout is 0 in these configs: train() only enables gradients' bookkeeping as the trainer does
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    model.zero_grad()
    res = model(input_ids=ids, attention_mask=mask, labels=lab)
    res.loss.backward()
    grads = {n: p.grad.flatten().tolist() for n, p in model.named_parameters()
             if "relative_attention_bias" in n or n.endswith("final_layer_norm.weight")}
    norms = {n: float(p.grad.norm()) for n, p in model.named_parameters() if p.grad is not None}
    out["cases"][case] = {"beam": beams, "loss": {"labels": labels, "loss": float(res.loss), "grads": grads, "grad_norms": norms}}
    print(case, float(res.loss), [b["sequence"] for b in beams[:3]], flush=True)
json.dump(out, open("test/models/data/t5-hf-refs.json", "w"), indent=0)
