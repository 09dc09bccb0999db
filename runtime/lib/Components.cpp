#include "attn/Components.h"

#include "attn/Error.h"

#include <algorithm>
#include <limits>
#include <tuple>

namespace attn {
namespace {

constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

// The positions of class `cls` of `map` in [lo, hi), as base, first and
// count (see ComponentTileLists::classes): the base takes whole groups of
// the map so that the kernel's tile rows are never negative (it divides
// them by the map's inner size).
void appendRange(std::vector<int64_t> &classes, const TileMap &map, int64_t cls, int64_t lo,
                 int64_t hi) {
  const int64_t first = mapIndexAtLeast(map, cls, lo);
  const int64_t inner = map[2], groups = (first >= 0 ? first : first - inner + 1) / inner;
  classes.insert(classes.end(), {map[0] + cls * map[1] + groups * map[3], first - groups * inner,
                                 mapIndexAtLeast(map, cls, hi) - first});
}

// Class c of the component in its own coordinates (see
// attn/ComponentTiles.h): its rows are the positions of its query map in
// [offset, offset + Nq), its columns those of its key map in [0, Nk).
void appendClass(std::vector<int64_t> &classes, const ComponentSpec &component, int64_t cls,
                 int64_t seqQ, int64_t seqK) {
  const int64_t offset = component.aligned ? seqK - seqQ : 0;
  appendRange(classes, component.queryMap, cls, offset, offset + seqQ);
  appendRange(classes, component.keyMap, cls, 0, seqK);
}

template <typename T> std::shared_ptr<DeviceBuffer> upload(const std::vector<T> &host) {
  // An empty list still gets a (never read) buffer: the kernels take pointers.
  auto buffer = std::make_shared<DeviceBuffer>(std::max<std::size_t>(host.size(), 1) * sizeof(T));
  if (!host.empty())
    buffer->upload(host.data());
  return buffer;
}

} // namespace

std::vector<std::string> componentPathSets(const Bundle &bundle) {
  std::vector<std::string> sets;
  for (const BundleComponent &component : bundle.components)
    if (std::find(sets.begin(), sets.end(), component.set) == sets.end())
      sets.push_back(component.set);
  auto inSet = [&](const std::string &set, auto predicate) {
    return std::any_of(bundle.components.begin(), bundle.components.end(),
                       [&](const BundleComponent &c) { return c.set == set && predicate(c); });
  };
  sets.erase(std::remove_if(sets.begin(), sets.end(),
                            [&](const std::string &set) {
                              bool mapped = inSet(set, [](const BundleComponent &c) {
                                return !isContiguousMap(c.queryMap) ||
                                       !isContiguousMap(c.keyMap);
                              });
                              bool closed = !inSet(set, [](const BundleComponent &c) {
                                return !isAnalytic(c);
                              });
                              return !(mapped && closed);
                            }),
             sets.end());
  return sets;
}

namespace {

/// Appends one row of lists: its PARTIAL tiles, then its FULL ones (in
/// increasing order) as a run when they are consecutive, else listed.
void appendRow(ComponentTileLists &lists, int32_t cls, int32_t tile,
               const std::vector<int32_t> &partial, const std::vector<int32_t> &full) {
  lists.tiles.insert(lists.tiles.end(), partial.begin(), partial.end());
  const bool run = !full.empty() && full.back() - full.front() + 1 == static_cast<int64_t>(full.size());
  if (run)
    lists.fullRange.insert(lists.fullRange.end(),
                           {full.front(), static_cast<int32_t>(full.size())});
  else
    lists.tiles.insert(lists.tiles.end(), full.begin(), full.end());
  if (!run)
    lists.fullRange.insert(lists.fullRange.end(), {0, 0});
  lists.rowOf.insert(lists.rowOf.end(), {cls, tile});
  lists.partialCount.push_back(static_cast<int32_t>(partial.size()));
  lists.start.push_back(static_cast<int64_t>(lists.tiles.size()));
}

} // namespace

ComponentTileLists buildComponentTileLists(const ComponentSpec &component, int64_t seqQ,
                                           int64_t seqK, int64_t blockQ, int64_t blockK,
                                           LayoutOrder order) {
  ComponentTiles tiles =
      enumerateComponentTiles(component, seqQ, seqK, {blockQ, blockK, /*keepTiles=*/true});
  if (tiles.status == ComponentTiles::Status::NotAnalytic)
    throw Error("component of form " + component.form + " has no closed-form tiles: " +
                tiles.reason);
  if (static_cast<int64_t>(tiles.tiles.size()) > kInt32Max)
    throw Error("a component of form " + component.form + " has too many tiles (" +
                std::to_string(tiles.tiles.size()) + ") for 32-bit lists");
  ComponentTileLists lists;
  lists.blockQ = blockQ;
  lists.blockK = blockK;
  lists.order = order;
  for (int64_t cls = 0; cls < tiles.classes; ++cls)
    appendClass(lists.classes, component, cls, seqQ, seqK);
  const bool byKey = order == LayoutOrder::ByKey;
  // The tiles come by class, query tile and key tile; by key, they are
  // reordered by class, key tile and query tile. Each run of one (class,
  // row tile) is a row.
  std::vector<const ComponentTile *> sorted;
  sorted.reserve(tiles.tiles.size());
  for (const ComponentTile &tile : tiles.tiles)
    sorted.push_back(&tile);
  if (byKey)
    std::stable_sort(sorted.begin(), sorted.end(), [](const auto *a, const auto *b) {
      return std::tie(a->cls, a->tk) < std::tie(b->cls, b->tk);
    });
  auto rowTile = [&](const ComponentTile &tile) { return byKey ? tile.tk : tile.tq; };
  auto otherTile = [&](const ComponentTile &tile) {
    return static_cast<int32_t>(byKey ? tile.tq : tile.tk);
  };
  lists.start.push_back(0);
  std::vector<int32_t> partial, full;
  for (std::size_t k = 0; k < sorted.size();) {
    const ComponentTile &first = *sorted[k];
    partial.clear();
    full.clear();
    for (; k < sorted.size() && sorted[k]->cls == first.cls &&
           rowTile(*sorted[k]) == rowTile(first);
         ++k)
      (sorted[k]->full ? full : partial).push_back(otherTile(*sorted[k]));
    appendRow(lists, static_cast<int32_t>(first.cls), static_cast<int32_t>(rowTile(first)),
              partial, full);
  }
  return lists;
}

DeviceComponentLists uploadComponentLists(std::size_t component,
                                          const ComponentTileLists &lists) {
  DeviceComponentLists device;
  device.component = component;
  device.rows = lists.rows();
  device.classes = upload(lists.classes);
  device.rowOf = upload(lists.rowOf);
  device.start = upload(lists.start);
  device.partialCount = upload(lists.partialCount);
  device.tiles = upload(lists.tiles);
  device.fullRange = upload(lists.fullRange);
  return device;
}

} // namespace attn
