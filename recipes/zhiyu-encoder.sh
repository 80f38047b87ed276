#!/usr/bin/env bash
# Zhiyu's own small Chinese+English encoder (issue 16), end to end on licensed data only:
#   1. the pretraining text (dev/bert/encoder-corpus.py: CrossWOZ, KdConv, LCCC toy, TinyStories, banking77 /
#      clinc150 training utterances, ABCD sample — never a benchmark test split, never an unlicensed set)
#   2. a WordPiece vocabulary of 8,000 tokens (zhiyu tokenizer train --type wordpiece)
#   3. token shards (zhiyu data prepare, one utterance per document)
#   4. MLM pretraining with whole-word masking (jieba for Chinese) of a 4-layer, 128-wide BERT (1.9M parameters)
#   5. intent fine-tuning + the side-by-side comparison with the TF-IDF + LR baseline (dev/bert/intent-compare.ts)
# Every step resumes: rerunning the script skips finished steps and continues training from checkpoints.
# Long steps run under `nice -n 10`. Usage: bash recipes/zhiyu-encoder.sh [WORK=runs/encoder] [PRETRAIN_STEPS=700]
set -euo pipefail
WORK=${WORK:-runs/encoder}
STEPS=${PRETRAIN_STEPS:-700}
DATA=${DATA:-../shared/data}
mkdir -p "$WORK"
[ -f "$WORK/corpus.txt" ] || python3 dev/bert/encoder-corpus.py --data "$DATA" --out "$WORK/corpus.txt"
[ -f "$WORK/tokenizer/vocab.txt" ] || node bin/zhiyu.mjs tokenizer train --type wordpiece --input "$WORK/corpus.txt" \
  --vocab-size 8000 --min-frequency 2 --out "$WORK/tokenizer"
[ -d "$WORK/data" ] || node bin/zhiyu.mjs data prepare --tokenizer "$WORK/tokenizer" --input "$WORK/corpus.txt" --split line \
  --val-fraction 0.01 --out "$WORK/data"
cat > "$WORK/model-config.json" <<'JSON'
{"architectures": ["BertForMaskedLM"], "model_type": "bert", "vocab_size": 8000, "hidden_size": 128, "num_hidden_layers": 4,
 "num_attention_heads": 4, "intermediate_size": 512, "max_position_embeddings": 128, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
 "hidden_act": "gelu", "pad_token_id": 0, "initializer_range": 0.02, "tie_word_embeddings": true}
JSON
PRE="$WORK/pretrain-h128"
if [ -d "$PRE/checkpoints" ]; then
  nice -n 10 node bin/zhiyu.mjs train --resume "$PRE" --steps "$STEPS"
else
  nice -n 10 node bin/zhiyu.mjs train --model-config "$WORK/model-config.json" --objective mlm --whole-word --tokenizer "$WORK/tokenizer" \
    --data "$WORK/data" --batch 32 --seq 64 --steps "$STEPS" --warmup 40 --lr 2e-3 --min-lr 1e-4 --weight-decay 0.01 \
    --checkpoint-every 100 --keep-last 2 --eval-every 100 --eval-batches 8 --log-every 10 --threads 2 --out "$PRE"
fi
CK=$(ls -d "$PRE"/checkpoints/step-* | sort | tail -1)
for SET in smp2017 banking77 clinc150; do
  nice -n 10 node --import tsx dev/bert/intent-compare.ts --set "$SET" --model "$CK" --work "$WORK/ft" --epochs "${EPOCHS:-2}" \
    --max-len 48 --lr 1e-3 --threads 2 | tee "$WORK/ft-$SET.txt"
done
