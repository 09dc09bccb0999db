//===- RunCommand.h - attnc run: a pattern's attention on .npy files ------===//
#pragma once

#include "attn/Attention.h"
#include "attn/Bundle.h"

#include "llvm/Support/Error.h"

#include <string>
#include <vector>

// `::attn` is the runtime's namespace, not the dialect's attnc::attn.
namespace attnc {

/// How q, k, v and o lie in their files: [B, H, N, D] or [B, N, H, D].
enum class TokenLayout { BHND, BNHD };

struct RunRequest {
  std::string q, k, v;          // .npy inputs, float32 or float16
  std::string o;                // .npy output, float32, laid out as q
  std::string lse;              // .npy output [B, H, Nq], float32; empty: none
  std::vector<std::string> tensors; // "name=file.npy" for the pattern's tensors
  ::attn::DType dtype = ::attn::DType::BF16;
  TokenLayout layout = TokenLayout::BHND;
};

/// Checks every input of `request` against `bundle` on the host (so that
/// mistakes are reported without a GPU), then runs the forward kernel on the
/// GPU and writes the outputs.
llvm::Error runAttention(const ::attn::Bundle &bundle, const RunRequest &request);

} // namespace attnc
