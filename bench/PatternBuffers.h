//===- PatternBuffers.h - A case's pattern tensors on the device ----------===//
#pragma once

#include "CaseTensors.h"

#include "attn/Layout.h"
#include "attn/Module.h"

#include <algorithm>
#include <memory>
#include <vector>

namespace attnc::bench {

/// The tensors uploaded, as Attention::layout takes them.
struct PatternBuffers {
  std::vector<std::unique_ptr<attn::DeviceBuffer>> buffers;
  std::vector<attn::PatternTensor> args;

  explicit PatternBuffers(const std::vector<CaseTensor> &tensors) {
    for (const CaseTensor &tensor : tensors) {
      // cuMemAlloc refuses 0 bytes; an empty tensor is never read.
      buffers.push_back(
          std::make_unique<attn::DeviceBuffer>(std::max<size_t>(tensor.bytes.size(), 1)));
      if (!tensor.bytes.empty())
        buffers.back()->upload(tensor.bytes.data());
      args.push_back({buffers.back()->pointer(), tensor.shape});
    }
  }
};

} // namespace attnc::bench
