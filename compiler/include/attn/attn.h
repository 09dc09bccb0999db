// The attnc JIT API: compile a pattern to a kernel bundle, then run it with
// the runtime (attn/Attention.h). See docs/API.md.
//
//   attn::Bundle bundle = attn::compileFile("patterns/sliding_window.pattern",
//                                           {.params = {{"window", "1024"}}});
//   attn::Attention attention(bundle, attn::DType::BF16, 128);
//   attn::BlockLayout layout = attention.layout({.batch = B, .heads = H,
//                                                .kvHeads = H, .seqQ = N, .seqK = N});
//   attention.forward(layout, q, k, v, o, lse, stream);
#pragma once

#include "attn/Attention.h"
#include "attn/Bundle.h"
#include "attn/Error.h"

#include <map>
#include <string>

namespace attn {

struct CompileOptions {
  // The pattern to compile; may be empty when the file holds only one.
  std::string pattern;
  // Parameter values as text, as `attnc -D name=value` takes them; parameters
  // not given keep their defaults.
  std::map<std::string, std::string> params;
};

// Throws attn::Error with the diagnostics (file:line:col) of a malformed
// pattern, an unknown pattern or parameter, or a bad parameter value.
Bundle compileFile(const std::string &path, const CompileOptions &options = {});
Bundle compileString(const std::string &source, const CompileOptions &options = {},
                     const std::string &name = "<string>");

} // namespace attn
