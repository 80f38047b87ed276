// The one reader of a weight-matrix argument { data: Uint8Array, type, rows, cols } for the fused-op glue files
// (decode_napi.cc, cross_decode_napi.cc, encoder_napi.cc): type known, shape equal to what the op expects, columns a
// whole number of blocks, repacked (r16) matrices in 16-row groups, enough bytes, f32 data 4-byte aligned.
// Leaves out: what each op requires of its dims (its glue file checks those).
#ifndef ZY_MATRIX_ARG_H
#define ZY_MATRIX_ARG_H
#include "zy_args.h"
#include "decode_layer.h" /* zy_decode_matrix */
#include "quant.h"
#include <cstdint>
#include <string>

namespace zy {

// allowF32: whether a plain f32 matrix is accepted (the decoder op takes encoded weights only).
inline zy_decode_matrix readMatrix(Args &a, Napi::Value v, const std::string &key, int64_t rows, int64_t cols, bool allowF32) {
  zy_decode_matrix w{nullptr, -1, rows, cols};
  if (!a.ok()) return w;
  if (!v.IsObject()) { a.fail(key + " must be { data, type, rows, cols }"); return w; }
  Napi::Object m = v.As<Napi::Object>();
  Napi::Value t = m.Get("type");
  w.type = t.IsString() ? zy_qtype_from_name(t.As<Napi::String>().Utf8Value().c_str()) : -1;
  if (w.type < 0 || (!allowF32 && w.type == ZY_QT_F32)) {
    a.fail(key + ".type must be " + (allowF32 ? "f32 or " : "") + "an encoded weight type (f16, bf16, q8_0, q4_k, ...)");
    return w;
  }
  if (!isCount(m.Get("rows")) || !isCount(m.Get("cols")) || i64(m.Get("rows")) != rows || i64(m.Get("cols")) != cols) {
    a.fail(key + " must be [" + std::to_string(rows) + ", " + std::to_string(cols) + "]");
    return w;
  }
  const int64_t be = zy_qtype_block_elems(w.type);
  if (cols % be != 0) { a.fail(key + ": cols " + std::to_string(cols) + " is not a multiple of the block size"); return w; }
  if (zy_qtype_is_r16(w.type) && rows % 16 != 0) { a.fail(key + ": a repacked matrix needs rows in multiples of 16"); return w; }
  const int64_t need = rows * (cols / be) * zy_qtype_block_bytes(w.type);
  Napi::Value d = m.Get("data");
  size_t len = 0;
  if (!isTyped(d, napi_uint8_array) || (w.data = typedPtr<uint8_t>(d, &len), static_cast<int64_t>(len) < need)) {
    a.fail(key + ".data must be a Uint8Array of at least " + std::to_string(need) + " bytes");
  } else if (w.type == ZY_QT_F32 && reinterpret_cast<uintptr_t>(w.data) % 4 != 0) {
    a.fail(key + ".data (f32) must start on a 4-byte boundary");
  }
  return w;
}

}  // namespace zy
#endif
