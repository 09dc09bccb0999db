//===- HeadClasses.cpp - Merge identical sets -----------------------------===//
#include "attnc/Dialect/Attn/Passes.h"

#include "mlir/IR/OperationSupport.h"

namespace attnc::attn {
#define GEN_PASS_DEF_ATTNHEADCLASSES
#include "Passes.h.inc"
} // namespace attnc::attn

using namespace mlir;
using namespace attnc::attn;

namespace {

bool sameRegion(SetOp a, SetOp b) {
  return OperationEquivalence::isRegionEquivalentTo(&a.getBody(), &b.getBody(),
                                                    OperationEquivalence::IgnoreLocations);
}

struct HeadClasses : attnc::attn::impl::AttnHeadClassesBase<HeadClasses> {
  void runOnOperation() override {
    PatternOp pattern = getOperation();
    HeadsOp heads = pattern.getUnique<HeadsOp>();
    if (!heads)
      return;
    SmallVector<SetOp> kept;
    llvm::DenseMap<StringAttr, StringAttr> replacement;
    for (SetOp set : llvm::make_early_inc_range(pattern.getBodyBlock().getOps<SetOp>())) {
      auto same = llvm::find_if(kept, [&](SetOp k) { return sameRegion(k, set); });
      if (same == kept.end()) {
        kept.push_back(set);
        continue;
      }
      replacement[set.getSymNameAttr()] = same->getSymNameAttr();
      set.erase();
    }
    SmallVector<Attribute> sets;
    for (Attribute attr : heads.getSets()) {
      auto name = cast<FlatSymbolRefAttr>(attr).getAttr();
      StringAttr target = replacement.lookup(name);
      sets.push_back(FlatSymbolRefAttr::get(target ? target : name));
    }
    heads.setSetsAttr(ArrayAttr::get(&getContext(), sets));
  }
};

} // namespace
