#pragma once
// What the tensorcore mapper's attention files share: which kernel an attention op
// runs (attr backend, the hardware's `attention` choice, or PyTorch's SDPA rules of
// sdpa_select.h) and what its attn_mask costs.
//
// Attention op attributes read here (workloads/ir.h): backend (1 flash2, 2
// flash3/cuDNN, 3 efficient, 4 math; absent: the hardware's choice), bias (an
// attn_mask is passed), bias_bool (it is a boolean mask, not an additive float
// one), bias_shared (it is broadcast over the batch), bias_head_shared (it is
// broadcast over the heads: a padding mask), bias_strided (its last dimension is
// not contiguous), strided (a q/k/v last dimension is not contiguous).
//
// The mask's bytes: every thread block of a (batch, head, query block) reads its
// query rows' mask tile, so the L2 serves batch x heads x sq x skv elements in
// the query format. DRAM serves the mask's own elements ((1 or batch) x (1 or
// heads) x sq x skv): a mask broadcast over the batch or the heads is read from
// DRAM once while it fits in half the L2, and once per reader when it does not. Before the kernel,
// PyTorch converts a boolean mask to an additive one (convert_boolean_attn_mask
// in aten/src/ATen/native/transformers/attention.cpp: one elementwise kernel over
// the mask's elements, 1 byte read and one query-format element written each),
// and the memory-efficient kernel needs the mask's rows aligned to 16 elements
// (preprocess_mask / pad_bias in the same file: a padded copy when skv % 16 != 0).
#include <string>

#include "compiler/tensorcore/kernel_build.h"
#include "compiler/tensorcore/sdpa_select.h"
#include "models/tensorcore/tensorcore.h"
#include "workloads/ir.h"

namespace tessera {

struct AttnBackend {
  bool math = false;              // the unfused math path (no fused kernel)
  MmaPath path = MmaPath::flash3; // the fused kernel otherwise
  std::string note;               // for the kernel's mapping text ("" when chosen by attr or hardware)
};

// The SDPA question an attention op asks (its dims, format, mask, strides).
SdpaQuery sdpa_query(const Op& op);
AttnBackend attention_backend(const Op& op, const TensorCoreSpec& s);

struct AttnBias {
  bool present = false;
  double l2 = 0, dram = 0;   // bytes the attention kernel reads for it
  double prep_read = 0, prep_write = 0;   // bytes of the conversion / padding kernels
  int64_t prep_launches = 0;
  std::string note;
};
AttnBias attention_bias(const Op& op, const tc_build::Levels& lv, MmaPath path);
// Lane operations per score of a fused kernel's in-kernel dropout (attr
// dropout=1; kernel_build.h k_fused_attention_dropout_lanes), 0 without dropout.
// The backward kernels draw the same numbers again.
double attention_dropout_lanes(const Op& op);
// Prepends the mask's conversion / padding kernels (streaming blocks on every SM)
// to `k` and counts their launches.
void add_bias_preparation(Kernel& k, const AttnBias& bias, const tc_build::Levels& lv, int64_t sms);

}  // namespace tessera
