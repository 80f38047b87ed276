// A SentencePiece model file (`tokenizer.model`, the protobuf `sentencepiece.ModelProto`) → its pieces (text,
// score, type), the model type and the normalizer's add_dummy_prefix: what llama.cpp's convert_hf_to_gguf.py reads
// through SentencePieceProcessor to write a `llama` GGUF vocabulary (gguf-export.ts).
// The protobuf is decoded by hand (five fields of three messages); every length is checked against the bytes left,
// so a truncated or hostile file throws SentencePieceModelError naming the field and the offset.
// Leaves out: tokenizing with the model (the GGUF `llama` vocabulary does that, src/tokenizers/spm.ts), the
// normalizer's precompiled character map, the trainer settings other than the model type, self-test data.

export class SentencePieceModelError extends Error {
  override name = "SentencePieceModelError";
}

/** SentencePiece piece types; the numbers are also GGUF's token types. */
export const PIECE_NORMAL = 1;
export const PIECE_UNKNOWN = 2;
export const PIECE_CONTROL = 3;
export const PIECE_USER_DEFINED = 4;
export const PIECE_UNUSED = 5;
export const PIECE_BYTE = 6;

export interface SentencePiece {
  piece: string;
  /** float32, as stored. */
  score: number;
  type: number;
}

export interface SentencePieceModel {
  pieces: SentencePiece[];
  /** trainer_spec.model_type: "unigram" (the proto's default), "bpe", "word" or "char". */
  modelType: "unigram" | "bpe" | "word" | "char";
  /** normalizer_spec.add_dummy_prefix (default true): a "▁" goes in front of the text. */
  addDummyPrefix: boolean;
}

const MODEL_TYPES = ["unigram", "bpe", "word", "char"] as const;

/** One protobuf message's fields, read in order. */
class Fields {
  private pos: number;
  constructor(private readonly bytes: Uint8Array, start: number, private readonly end: number, private readonly where: string) {
    this.pos = start;
  }

  private fail(what: string): never {
    throw new SentencePieceModelError(`tokenizer.model: ${this.where} at byte ${this.pos}: ${what} (is this a SentencePiece model file?)`);
  }

  varint(): number {
    let value = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (this.pos >= this.end) this.fail("a varint runs past the end");
      const b = this.bytes[this.pos++]!;
      if (shift < 53) value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
    }
    this.fail("a varint longer than 10 bytes");
  }

  /** The next field's number, wire type and [start, end) of its payload; null at the end of the message. */
  next(): { field: number; wire: number; start: number; end: number } | null {
    if (this.pos >= this.end) return null;
    const key = this.varint();
    const field = Math.floor(key / 8), wire = key % 8;
    const start = this.pos;
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 5) this.pos += 4;
    else if (wire === 2) {
      const len = this.varint();
      if (len > this.end - this.pos) this.fail(`field ${field} says ${len} bytes but ${this.end - this.pos} are left`);
      return { field, wire, start: this.pos, end: (this.pos += len) };
    } else this.fail(`field ${field} has wire type ${wire}, which this file format does not use`);
    if (this.pos > this.end) this.fail(`field ${field} runs past the end`);
    return { field, wire, start, end: this.pos };
  }

  sub(start: number, end: number, where: string): Fields {
    return new Fields(this.bytes, start, end, where);
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Decodes a tokenizer.model file's bytes. */
export function readSentencePieceModel(bytes: Uint8Array): SentencePieceModel {
  const top = new Fields(bytes, 0, bytes.length, "ModelProto");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pieces: SentencePiece[] = [];
  let modelType: SentencePieceModel["modelType"] = "unigram";
  let addDummyPrefix = true;
  for (let f = top.next(); f; f = top.next()) {
    if (f.field === 1 && f.wire === 2) {
      const where = `pieces[${pieces.length}]`;
      const msg = top.sub(f.start, f.end, where);
      const p: SentencePiece = { piece: "", score: 0, type: PIECE_NORMAL };
      for (let g = msg.next(); g; g = msg.next()) {
        if (g.field === 1 && g.wire === 2) {
          try {
            p.piece = utf8.decode(bytes.subarray(g.start, g.end));
          } catch {
            throw new SentencePieceModelError(`tokenizer.model: ${where}.piece is not valid UTF-8`);
          }
        } else if (g.field === 2 && g.wire === 5) p.score = view.getFloat32(g.start, true);
        else if (g.field === 3 && g.wire === 0) p.type = msg.sub(g.start, g.end, `${where}.type`).varint();
      }
      if (!(p.type >= PIECE_NORMAL && p.type <= PIECE_BYTE)) throw new SentencePieceModelError(`tokenizer.model: ${where}.type is ${p.type}, expected 1..6`);
      pieces.push(p);
    } else if ((f.field === 2 || f.field === 3) && f.wire === 2) {
      const msg = top.sub(f.start, f.end, f.field === 2 ? "trainer_spec" : "normalizer_spec");
      for (let g = msg.next(); g; g = msg.next()) {
        if (g.wire !== 0 || g.field !== 3) continue;
        const v = msg.sub(g.start, g.end, "").varint();
        if (f.field === 2) {
          const t = MODEL_TYPES[v - 1];
          if (!t) throw new SentencePieceModelError(`tokenizer.model: trainer_spec.model_type is ${v}, expected 1..4`);
          modelType = t;
        } else addDummyPrefix = v !== 0;
      }
    }
  }
  if (pieces.length === 0) throw new SentencePieceModelError("tokenizer.model: no pieces (is this a SentencePiece model file?)");
  return { pieces, modelType, addDummyPrefix };
}
