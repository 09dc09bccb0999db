// The component path of the forward (DESIGN.md §4, docs/API.md): a head
// class whose set attn-components split into disjoint components with dense
// tile maps runs one kernel per component (runtime/kernels/
// attnc_components.cuh) over tile lists built here on the CPU, analytically,
// and merges their rows by log-sum-exp.
#pragma once

#include "attn/Bundle.h"
#include "attn/ComponentTiles.h"
#include "attn/KernelArgs.h"
#include "attn/Layout.h"
#include "attn/Module.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace attn {

// The sets (by name, as headSet gives them; "" for the attend set) whose
// heads the forward runs through their components: at least one of the set's
// components has a non-contiguous tile map (else its own tiles serve as
// well) and every one has a closed form (exact or cover).
std::vector<std::string> componentPathSets(const Bundle &bundle);

// One component's tiles for one shape, as its kernels read them
// (attnc_tile_lists). By query, a row is a (class, query tile) that holds at
// least one tile and its tiles are key tiles (the forward, dQ); by key, a row
// is a (class, key tile) and its tiles are query tiles (dK, dV). Row r lists
// tiles[start[r], start[r + 1]), the first partialCount[r] PARTIAL (the
// kernel evaluates the component's predicate there), the others FULL, then
// the FULL tiles fullRange[2r], ..., fullRange[2r] + fullRange[2r + 1] - 1
// (attnc_tile_lists; buildComponentTileLists lists only PARTIAL tiles).
struct ComponentTileLists {
  int64_t blockQ = 0, blockK = 0;
  // Per class, 6 numbers (attnc_component_class): for its rows, a base
  // position, the tile row t >= 0 of the first (row a sits at base + (t /
  // inner) * outer_stride + (t % inner) * inner_stride with t = first + a of
  // the query map) and their number; then the same for its columns and the
  // key map.
  std::vector<int64_t> classes;
  std::vector<int32_t> rowOf; // per row: its class and its query (by key: key) tile
  std::vector<int64_t> start; // rows + 1
  std::vector<int32_t> partialCount;
  std::vector<int32_t> tiles;
  std::vector<int32_t> fullRange; // 2 per row

  int64_t rows() const { return static_cast<int64_t>(partialCount.size()); }
  // Tiles of row r, listed or in its FULL run.
  int64_t rowTiles(int64_t r) const { return start[r + 1] - start[r] + fullRange[2 * r + 1]; }
  // Tiles of all rows.
  int64_t partialTiles() const;
  int64_t fullTiles() const;
};

// The lists of `component` at Nq = seqQ, Nk = seqK with tiles of blockQ
// queries by blockK keys, from visitComponentTileRows; with `everyRow`, by
// query, also the rows of tiles that meet no tile, so that a kernel over the
// lists reaches every query (the classes partition them). Throws attn::Error
// when the component has no closed form or a list does not fit the kernels'
// 32-bit indices.
ComponentTileLists buildComponentTileLists(const ComponentSpec &component, int64_t seqQ,
                                           int64_t seqK, int64_t blockQ, int64_t blockK,
                                           LayoutOrder order = LayoutOrder::ByQuery,
                                           bool everyRow = false);

// `host` in a new device buffer; an empty vector still gets a (never read)
// buffer, since the kernels take pointers.
template <typename T> std::shared_ptr<DeviceBuffer> uploadVector(const std::vector<T> &host) {
  auto buffer = std::make_shared<DeviceBuffer>(std::max<std::size_t>(host.size(), 1) * sizeof(T));
  if (!host.empty())
    buffer->upload(host.data());
  return buffer;
}

// ComponentTileLists on the device; the buffers are shared by copies.
struct DeviceComponentLists {
  std::size_t component = 0; // its index in Bundle::components
  int64_t rows = 0;
  int64_t fullTiles = 0, partialTiles = 0; // for one head of the class
  std::shared_ptr<DeviceBuffer> classes, rowOf, start, partialCount, tiles, fullRange;

  DeviceTileLists tileLists() const {
    return {start->pointer(), partialCount->pointer(), tiles->pointer(), rows, 0,
            fullRange->pointer()};
  }
};

DeviceComponentLists uploadComponentLists(std::size_t component,
                                          const ComponentTileLists &lists);

// The heads of one set on the component path for one problem, and its
// components' lists.
struct ComponentClassLayout {
  std::string set;
  std::vector<int32_t> heads;
  std::shared_ptr<DeviceBuffer> deviceHeads;
  std::vector<DeviceComponentLists> components;
  // With the component backward only (KernelOptions::componentsBackward):
  // the key/value heads with query heads in the class; the query heads of
  // kvHeads[k] are groupHeads[groupStart[k], groupStart[k + 1]) (on the
  // device as int32); the components' lists of the backward's 64 x 64 tiles,
  // by query (dQ) and by key (dK, dV), in the order of `components`.
  std::vector<int32_t> kvHeads;
  std::shared_ptr<DeviceBuffer> deviceKvHeads, deviceGroupStart, deviceGroupHeads;
  std::vector<DeviceComponentLists> backwardByQuery, backwardByKey;
};

} // namespace attn
