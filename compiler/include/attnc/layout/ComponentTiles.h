//===- ComponentTiles.h - The tiles of one component, analytically (CPU) --===//
//
// The enumeration lives in the runtime (attn/ComponentTiles.h), which builds
// the component kernels' tile lists from it without MLIR; the layout report
// (`attnc layout --components-tiles`) calls the same code on a ComponentInfo,
// which is an attn::ComponentSpec.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "attnc/layout/Layout.h"

#include "attn/ComponentTiles.h"

namespace attnc::layout {

using ::attn::ComponentTile;
using ::attn::ComponentTileOptions;
using ::attn::ComponentTiles;
using ::attn::enumerateComponentTiles;
using ::attn::statusName;

} // namespace attnc::layout
