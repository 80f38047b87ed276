#!/usr/bin/env bash
# Zhiyu's own small Chinese+English encoder (issue 16), end to end on licensed data only:
#   1. the pretraining text (dev/bert/encoder-corpus.py: CrossWOZ, KdConv, LCCC toy, TinyStories, banking77 /
#      clinc150 training utterances, ABCD sample — never a benchmark test split, never an unlicensed set)
#   2. a WordPiece vocabulary of 8,000 tokens (zhiyu tokenizer train --type wordpiece)
#   3. token shards (zhiyu data prepare, one utterance per document)
#   4. MLM pretraining with whole-word masking (jieba for Chinese) of the bert-small shape with the 8k vocabulary
#      (4 layers × 256, 4 heads, FFN 1024: 5.41M parameters)
#   5. intent/emotion fine-tuning with sparse TF-IDF n-gram features beside the frozen encoder (DIET-style:
#      finetune --sparse-ngrams word:1-2,char_wb:1-5 --freeze-encoder) and the side-by-side comparison with the
#      TF-IDF + LR baseline on banking77, clinc150, smp2017-ecdt and clue-emotion in one run (dev/bert/intent-compare.ts)
# Every step resumes: rerunning the script skips finished steps and continues training from checkpoints.
# Long steps run under `nice -n 10`. Usage: [WORK=runs/encoder] [PRETRAIN_STEPS=3000] [CHECKPOINT=DIR] [SETS=a,b] [EPOCHS=3]
#   [PYTHON=python3 with scikit-learn, for the baseline] [SHIP=1] bash recipes/zhiyu-encoder.sh
# The shipped models (models/zhiyu-encoder, models/zhiyu-intent-clinc150, models/zhiyu-intent-banking77) are this
# recipe's output with the defaults (3,000 pretraining steps, 3 fine-tuning epochs); their cards hold the figures.
set -euo pipefail
WORK=${WORK:-runs/encoder}
STEPS=${PRETRAIN_STEPS:-3000}
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
CK=${CHECKPOINT:-$(ls -d "$PRE"/checkpoints/step-* | sort | tail -1)}
nice -n 10 node --import tsx dev/bert/intent-compare.ts --set "${SETS:-banking77,clinc150,smp2017,clue-emotion}" --model "$CK" --work "$WORK/ft" \
  --epochs "${EPOCHS:-3}" --max-len 48 --lr 3e-4 --threads 2 --sparse-ngrams word:1-2,char_wb:1-5 --freeze-encoder --python "${PYTHON:-python3}" \
  | tee "$WORK/ft-compare.txt"
# 6. Shipping (issue 16 Build item 7; SHIP=1 after checking the comparison), all with f16 weights: the pretrained
#    encoder (models/zhiyu-encoder, BertForMaskedLM), and the banking77 (CC BY 4.0) and clinc150 (CC BY 3.0, with its
#    out-of-scope class and threshold) intent classifiers. smp2017-ecdt and clue-emotion have no licence, so no model
#    trained on them ships (no emotion model; no licensed slot data either). The classifiers' encoder was frozen, so
#    they share models/zhiyu-encoder's weights (a safetensors index + symlink) and hold only their heads;
#    dev/bert/ship-model.ts checks that their trunk equals the checkpoint's and measures each f16 copy against its
#    f32 original (ship-check.json). The model cards (MODEL_CARD.md) are written by hand from those figures.
if [ "${SHIP:-0}" = 1 ]; then
  node --import tsx dev/bert/ship-model.ts encoder --from "$CK" --to models/zhiyu-encoder --check "$WORK/ft/banking77/test.jsonl"
  for set in clinc150 banking77; do
    node --import tsx dev/bert/ship-model.ts classifier --from "$WORK/ft/$set/run/model" --pretrained "$CK" --encoder models/zhiyu-encoder \
      --to "models/zhiyu-intent-$set" --check "$WORK/ft/$set/test.jsonl"
  done
  du -sh models/*
fi
