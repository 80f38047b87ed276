#!/usr/bin/env bash
# Zhiyu's own small Chinese+English encoder (issue 16), end to end on licensed data only:
#   1. the pretraining text (dev/bert/encoder-corpus.py: CrossWOZ, KdConv, LCCC toy, TinyStories, banking77 /
#      clinc150 training utterances, ABCD sample — never a benchmark test split, never an unlicensed set)
#   2. a WordPiece vocabulary of 8,000 tokens (zhiyu tokenizer train --type wordpiece)
#   3. token shards (zhiyu data prepare, one utterance per document)
#   4. MLM pretraining with whole-word masking (jieba for Chinese) of the bert-small shape with the 8k vocabulary
#      (4 layers × 256, 4 heads, FFN 1024: 5.41M parameters)
#   5. intent fine-tuning + the side-by-side comparison with the TF-IDF + LR baseline (dev/bert/intent-compare.ts)
# Every step resumes: rerunning the script skips finished steps and continues training from checkpoints.
# Long steps run under `nice -n 10`. Usage: bash recipes/zhiyu-encoder.sh [WORK=runs/encoder] [PRETRAIN_STEPS=2000]
set -euo pipefail
WORK=${WORK:-runs/encoder}
STEPS=${PRETRAIN_STEPS:-2000}
DATA=${DATA:-../shared/data}
mkdir -p "$WORK"
[ -f "$WORK/corpus.txt" ] || python3 dev/bert/encoder-corpus.py --data "$DATA" --out "$WORK/corpus.txt"
[ -f "$WORK/tokenizer/vocab.txt" ] || node bin/zhiyu.mjs tokenizer train --type wordpiece --input "$WORK/corpus.txt" \
  --vocab-size 8000 --min-frequency 2 --out "$WORK/tokenizer"
[ -d "$WORK/data" ] || node bin/zhiyu.mjs data prepare --tokenizer "$WORK/tokenizer" --input "$WORK/corpus.txt" --split line \
  --val-fraction 0.01 --out "$WORK/data"
PRE="$WORK/pretrain"
if [ -d "$PRE/checkpoints" ]; then
  nice -n 10 node bin/zhiyu.mjs train --resume "$PRE" --steps "$STEPS" --schedule-steps "$STEPS"
else
  nice -n 10 node bin/zhiyu.mjs train --preset bert-small --vocab-size 8000 --objective mlm --whole-word --tokenizer "$WORK/tokenizer" \
    --data "$WORK/data" --batch 32 --seq 64 --steps "$STEPS" --warmup 60 --lr 1e-3 --min-lr 5e-5 --weight-decay 0.01 \
    --checkpoint-every 100 --keep-last 2 --eval-every 100 --eval-batches 8 --log-every 10 --threads 2 --out "$PRE"
fi
CK=$(ls -d "$PRE"/checkpoints/step-* | sort | tail -1)
for SET in smp2017 banking77 clinc150; do
  nice -n 10 node --import tsx dev/bert/intent-compare.ts --set "$SET" --model "$CK" --work "$WORK/ft" --epochs "${EPOCHS:-2}" \
    --max-len 48 --lr 3e-4 --threads 2 | tee "$WORK/ft-$SET.txt"
done
