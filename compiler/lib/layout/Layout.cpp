//===- Layout.cpp - Tile classification and its text and JSON forms -------===//
#include "attnc/layout/Layout.h"

#include "llvm/Support/raw_ostream.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <map>

namespace attnc::layout {
namespace {

llvm::Error error(const std::string &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s", message.c_str());
}

/// The pair-by-pair truth of a PARTIAL tile.
TileKind refine(const interp::Interpreter &oracle, int64_t h, int64_t iLo, int64_t iHi,
                int64_t jLo, int64_t jHi) {
  bool anyIn = false, anyOut = false;
  for (int64_t i = iLo; i <= iHi && !(anyIn && anyOut); ++i)
    for (int64_t j = jLo; j <= jHi && !(anyIn && anyOut); ++j)
      (oracle.attends(0, h, i, j) ? anyIn : anyOut) = true;
  return anyIn && anyOut ? TileKind::Partial : anyIn ? TileKind::Full : TileKind::Empty;
}

/// Fills `layout.tiles[h]` from the twin, refined pair by pair if asked.
llvm::Error classifyHead(attn::PatternEvaluator &twins, const attn::PatternEvaluator::HeadTwin &twin,
                         const interp::Interpreter *oracle, const LayoutOptions &options, int64_t h,
                         Layout &layout) {
  for (int64_t row = 0; row < layout.rows; ++row) {
    int64_t iLo = row * options.blockQ;
    int64_t iHi = std::min(layout.seqQ, iLo + options.blockQ) - 1;
    for (int64_t col = 0; col < layout.cols; ++col) {
      int64_t jLo = col * options.blockK;
      int64_t jHi = std::min(layout.seqK, jLo + options.blockK) - 1;
      auto answer = twins.classify(twin, h, iLo, iHi, jLo, jHi);
      if (mlir::failed(answer))
        return error("cannot evaluate the interval twin (see the diagnostic above)");
      auto [mayBeTrue, mayBeFalse] = *answer;
      TileKind kind = !mayBeFalse ? TileKind::Full
                      : !mayBeTrue ? TileKind::Empty
                                   : TileKind::Partial;
      if (kind == TileKind::Partial && options.exact)
        kind = refine(*oracle, h, iLo, iHi, jLo, jHi);
      layout.tiles[h][row * layout.cols + col] = kind;
    }
  }
  return llvm::Error::success();
}

} // namespace

std::vector<std::vector<int64_t>> Layout::headGroups() const {
  std::vector<std::vector<int64_t>> groups;
  for (int64_t h = 0; h < numHeads; ++h) {
    auto same = std::find_if(groups.begin(), groups.end(),
                             [&](const auto &g) { return tiles[g.front()] == tiles[h]; });
    if (same == groups.end())
      groups.push_back({h});
    else
      same->push_back(h);
  }
  return groups;
}

llvm::Expected<Layout> buildLayout(attn::PatternEvaluator &twins,
                                   const interp::Interpreter *oracle, const attn::Sizes &sizes,
                                   const LayoutOptions &options) {
  if (options.blockQ < 1 || options.blockK < 1)
    return error("tile sizes must be at least 1");
  if (sizes.seqQ < 1 || sizes.seqK < 1 || sizes.numHeads < 1)
    return error("sequence lengths and head count must be at least 1");
  if (options.exact && !oracle)
    return error("exact refinement needs the reference interpreter");
  if (options.exact && sizes.seqQ * sizes.seqK * sizes.numHeads > kMaxExactPairs)
    return error(fmt::format("--exact evaluates every pair of PARTIAL tiles; {} x {} x {} "
                             "heads is above its limit of {} pairs",
                             sizes.seqQ, sizes.seqK, sizes.numHeads, kMaxExactPairs));
  Layout layout;
  layout.seqQ = sizes.seqQ;
  layout.seqK = sizes.seqK;
  layout.numHeads = sizes.numHeads;
  layout.blockQ = options.blockQ;
  layout.blockK = options.blockK;
  layout.rows = (sizes.seqQ + options.blockQ - 1) / options.blockQ;
  layout.cols = (sizes.seqK + options.blockK - 1) / options.blockK;
  layout.tiles.assign(sizes.numHeads, std::vector<TileKind>(layout.rows * layout.cols));
  // Heads whose set and twin do not read h share one classification.
  std::map<mlir::Operation *, int64_t> firstHeadOfTwin;
  for (int64_t h = 0; h < sizes.numHeads; ++h) {
    auto twin = twins.twinOf(h);
    if (mlir::failed(twin))
      return error("cannot find the interval twin (see the diagnostic above)");
    if (!twin->perHead) {
      auto [first, inserted] = firstHeadOfTwin.emplace(twin->twin.getOperation(), h);
      if (!inserted) {
        layout.tiles[h] = layout.tiles[first->second];
        continue;
      }
    }
    if (llvm::Error err = classifyHead(twins, *twin, oracle, options, h, layout))
      return err;
  }
  return layout;
}

std::vector<ComponentInfo> describeComponents(attn::PatternOp pattern, int64_t numHeads) {
  std::vector<ComponentInfo> out;
  auto heads = pattern.getUnique<attn::HeadsOp>();
  for (attn::ComponentOp c : pattern.getBodyBlock().getOps<attn::ComponentOp>()) {
    ComponentInfo info;
    if (auto of = c.getOfAttr())
      info.set = of.getValue().str();
    for (int64_t h = 0; h < numHeads; ++h) {
      bool mine = heads ? !info.set.empty() && heads.getSetOf(h) == info.set
                        : info.set.empty();
      if (mine)
        info.heads.push_back(h);
    }
    info.index = c.getIndex();
    static_cast<::attn::ComponentSpec &>(info) = componentSpec(c);
    out.push_back(std::move(info));
  }
  return out;
}

::attn::ComponentSpec componentSpec(attn::ComponentOp c) {
  ::attn::ComponentSpec spec;
  spec.form = attn::stringifyComponentForm(c.getForm()).str();
  spec.aligned = c.getAligned();
  spec.causal = c.getCausal();
  spec.exact = c.getExact();
  spec.window = c.getWindow();
  spec.minDistance = c.getMinDistance();
  spec.earlierBlocks = c.getEarlierBlocks();
  spec.modulus = c.getModulus();
  spec.residue = c.getResidue();
  spec.lo = c.getLo();
  spec.hi = c.getHi();
  spec.classes = c.getClasses();
  spec.queryMap.assign(c.getQueryMap().begin(), c.getQueryMap().end());
  spec.keyMap.assign(c.getKeyMap().begin(), c.getKeyMap().end());
  return spec;
}

namespace {
std::string joined(const std::vector<int64_t> &values) {
  std::string s;
  for (size_t k = 0; k < values.size(); ++k)
    s += (k ? ", " : "") + std::to_string(values[k]);
  return s;
}
} // namespace

void printText(const Layout &layout, llvm::raw_ostream &os) {
  os << fmt::format("layout: Nq = {}, Nk = {}, H = {}, tiles {} x {} ({} x {} of them)\n",
                    layout.seqQ, layout.seqK, layout.numHeads, layout.blockQ, layout.blockK,
                    layout.rows, layout.cols);
  for (const auto &group : layout.headGroups()) {
    os << (group.size() == 1 ? "head " : "heads ");
    for (size_t k = 0; k < group.size(); ++k)
      os << (k ? ", " : "") << group[k];
    os << ":\n";
    int64_t counts[3] = {};
    for (int64_t row = 0; row < layout.rows; ++row) {
      for (int64_t col = 0; col < layout.cols; ++col) {
        TileKind kind = layout.at(group.front(), row, col);
        ++counts[static_cast<int>(kind)];
        os << (kind == TileKind::Full ? '#' : kind == TileKind::Partial ? '+' : '.');
      }
      os << '\n';
    }
    int64_t total = layout.rows * layout.cols;
    os << fmt::format("full {}, partial {}, empty {} of {} tiles; density {:.2f}%\n",
                      counts[2], counts[1], counts[0], total,
                      100.0 * double(counts[1] + counts[2]) / double(total));
  }
  if (layout.components.empty())
    return;
  // Components come after the tile rows, which stay as they were.
  os << "components:\n";
  for (const ComponentInfo &c : layout.components) {
    os << fmt::format("  {} (heads {}) #{}: {}", c.set.empty() ? "attend" : "@" + c.set,
                      joined(c.heads), c.index, c.form);
    if (c.modulus)
      os << " l=" << *c.modulus;
    if (c.residue)
      os << " r=" << *c.residue;
    if (c.lo)
      os << fmt::format(" [{}, {})", *c.lo, *c.hi);
    if (c.window)
      os << " window=" << *c.window;
    if (c.minDistance)
      os << " min_distance=" << *c.minDistance;
    if (c.earlierBlocks)
      os << " earlier_blocks=" << *c.earlierBlocks;
    os << (c.causal ? " causal" : "") << (c.aligned ? " q=i+Nk-Nq" : " q=i");
    os << fmt::format("; classes {}, query map [{}], key map [{}]\n", c.classes,
                      joined(c.queryMap), joined(c.keyMap));
    if (const auto &t = c.tiles) {
      os << fmt::format("    tiles {} x {}: {}", t->blockQ, t->blockK, t->status);
      // A cover counts the pairs of the form: at most.
      if (t->status != "not analytic")
        os << fmt::format(", classes {}, full {}, partial {}, pairs {}{} of {} ({:.1f}% dense)",
                          t->classes, t->full, t->partial, t->status == "cover" ? "at most " : "",
                          t->pairs, t->area,
                          t->area ? 100.0 * double(t->pairs) / double(t->area) : 0.0);
      if (!t->reason.empty())
        os << " (" << t->reason << ")";
      os << "\n";
    }
  }
}

void printJson(const Layout &layout, llvm::raw_ostream &os) {
  os << fmt::format(R"({{"seq_q":{},"seq_k":{},"num_heads":{},"block_q":{},"block_k":{},)",
                    layout.seqQ, layout.seqK, layout.numHeads, layout.blockQ, layout.blockK);
  os << "\"heads\":[";
  for (int64_t h = 0; h < layout.numHeads; ++h) {
    os << (h ? "," : "") << "{\"head\":" << h << ",\"rows\":[";
    for (int64_t row = 0; row < layout.rows; ++row) {
      std::string full, partial;
      for (int64_t col = 0; col < layout.cols; ++col) {
        TileKind kind = layout.at(h, row, col);
        std::string &list = kind == TileKind::Full ? full : partial;
        if (kind != TileKind::Empty)
          list += (list.empty() ? "" : ",") + std::to_string(col);
      }
      os << (row ? "," : "") << "{\"full\":[" << full << "],\"partial\":[" << partial << "]}";
    }
    os << "]}";
  }
  os << "]";
  if (!layout.components.empty()) {
    os << ",\"components\":[";
    for (size_t k = 0; k < layout.components.size(); ++k) {
      const ComponentInfo &c = layout.components[k];
      os << (k ? "," : "") << "{\"set\":"
         << (c.set.empty() ? std::string("null") : "\"" + c.set + "\"");
      os << fmt::format(R"(,"heads":[{}],"index":{},"form":"{}","aligned":{},"causal":{})",
                        fmt::join(c.heads, ","), c.index, c.form, c.aligned, c.causal);
      const std::pair<const char *, const std::optional<int64_t> *> optional[] = {
          {"window", &c.window},   {"min_distance", &c.minDistance},
          {"earlier_blocks", &c.earlierBlocks}, {"modulus", &c.modulus},
          {"residue", &c.residue}, {"lo", &c.lo}, {"hi", &c.hi}};
      for (const auto &[name, value] : optional)
        if (*value)
          os << fmt::format(R"(,"{}":{})", name, **value);
      os << fmt::format(R"(,"classes":{},"query_map":[{}],"key_map":[{}])", c.classes,
                        fmt::join(c.queryMap, ","), fmt::join(c.keyMap, ","));
      if (const auto &t = c.tiles) {
        os << fmt::format(R"(,"tiles":{{"status":"{}","block_q":{},"block_k":{})", t->status,
                          t->blockQ, t->blockK);
        if (t->status != "not analytic")
          os << fmt::format(R"(,"classes":{},"full":{},"partial":{},"pairs":{},"area":{})",
                            t->classes, t->full, t->partial, t->pairs, t->area);
        os << "}";
      }
      os << "}";
    }
    os << "]";
  }
  os << "}\n";
}

} // namespace attnc::layout
