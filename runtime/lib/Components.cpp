#include "attn/Components.h"

#include "attn/Error.h"

#include <algorithm>
#include <limits>

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

ComponentTileLists buildComponentTileLists(const ComponentSpec &component, int64_t seqQ,
                                           int64_t seqK, int64_t blockQ, int64_t blockK,
                                           LayoutOrder order, bool everyRow) {
  ComponentTileLists lists;
  lists.blockQ = blockQ;
  lists.blockK = blockK;
  lists.start.push_back(0);
  auto tooMany = [&](const std::string &what) {
    return Error("a component of form " + component.form + " has too many " + what +
                 " for 32-bit lists");
  };
  auto append = [&](const ComponentTileRow &row) {
    if (lists.tiles.size() + row.partial.size() > static_cast<std::size_t>(kInt32Max))
      throw tooMany("PARTIAL tiles");
    if (row.fullFirst + row.fullCount > kInt32Max || row.tile > kInt32Max)
      throw tooMany("tiles");
    for (int64_t k : row.partial)
      lists.tiles.push_back(static_cast<int32_t>(k));
    lists.fullRange.insert(lists.fullRange.end(), {static_cast<int32_t>(row.fullFirst),
                                                   static_cast<int32_t>(row.fullCount)});
    lists.rowOf.insert(lists.rowOf.end(),
                       {static_cast<int32_t>(row.cls), static_cast<int32_t>(row.tile)});
    lists.partialCount.push_back(static_cast<int32_t>(row.partial.size()));
    lists.start.push_back(static_cast<int64_t>(lists.tiles.size()));
  };
  ComponentTileOptions options{blockQ, blockK, /*keepTiles=*/false,
                               /*byKey=*/order == LayoutOrder::ByKey, /*emptyRows=*/everyRow};
  if (everyRow && options.byKey)
    throw Error("every row of a component's lists is asked for by query only");
  ComponentTiles tiles = visitComponentTileRows(component, seqQ, seqK, options, append);
  if (tiles.status == ComponentTiles::Status::NotAnalytic)
    throw Error("component of form " + component.form + " has no closed-form tiles: " +
                tiles.reason);
  int64_t queries = 0;
  for (int64_t cls = 0; cls < tiles.classes; ++cls) {
    appendClass(lists.classes, component, cls, seqQ, seqK);
    queries += lists.classes[6 * cls + 2];
  }
  // The epilogues that write O rely on it (attnc_components.cuh).
  if (queries != seqQ)
    throw Error("internal error: the " + std::to_string(tiles.classes) +
                " classes of a component of form " + component.form + " hold " +
                std::to_string(queries) + " queries, not Nq = " + std::to_string(seqQ));
  return lists;
}

int64_t ComponentTileLists::partialTiles() const {
  int64_t tiles = 0;
  for (int32_t count : partialCount)
    tiles += count;
  return tiles;
}

int64_t ComponentTileLists::fullTiles() const {
  int64_t tiles = 0;
  for (int64_t r = 0; r < rows(); ++r)
    tiles += rowTiles(r);
  return tiles - partialTiles();
}

DeviceComponentLists uploadComponentLists(std::size_t component,
                                          const ComponentTileLists &lists) {
  DeviceComponentLists device;
  device.component = component;
  device.rows = lists.rows();
  device.fullTiles = lists.fullTiles();
  device.partialTiles = lists.partialTiles();
  device.classes = uploadVector(lists.classes);
  device.rowOf = uploadVector(lists.rowOf);
  device.start = uploadVector(lists.start);
  device.partialCount = uploadVector(lists.partialCount);
  device.tiles = uploadVector(lists.tiles);
  device.fullRange = uploadVector(lists.fullRange);
  return device;
}

} // namespace attn
