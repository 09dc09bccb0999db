//===- RunCommand.h - attnc run: a pattern's attention on .npy files ------===//
#pragma once

#include "attn/Attention.h"
#include "attn/Bundle.h"

#include "llvm/Support/Error.h"

#include <string>
#include <vector>

// `::attn` is the runtime's namespace, not the dialect's attnc::attn.
namespace attnc {

/// How q, k, v and o (and dO, dq, dk, dv) lie in their files: [B, H, N, D]
/// or [B, N, H, D].
enum class TokenLayout { BHND, BNHD };

struct RunRequest {
  std::string q, k, v;              // .npy inputs, float32 or float16
  std::string o;                    // .npy output, float32, laid out as q
  std::string lse;                  // .npy output [B, H, Nq], float32; empty: none
  std::vector<std::string> tensors; // "name=file.npy" for the pattern's tensors
  ::attn::DType dtype = ::attn::DType::BF16;
  TokenLayout layout = TokenLayout::BHND;
  // The backward pass, run after the forward when dO is given; all four go
  // together (empty: forward only).
  std::string dO;                       // .npy input, float32 or float16, shaped as q
  std::string dq, dk, dv;               // .npy outputs, float32, shaped as q, k and v
  std::vector<std::string> tensorGrads; // "name=file.npy": a float32 tensor's gradient

  bool backward() const { return !dO.empty(); }
};

/// Checks every input of `request` against `bundle` on the host (so that
/// mistakes are reported without a GPU), then runs the forward kernel (and
/// the backward's, with dO) on the GPU and writes the outputs.
llvm::Error runAttention(const ::attn::Bundle &bundle, const RunRequest &request);

} // namespace attnc
