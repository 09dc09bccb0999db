//===- Components.cpp - Disjoint components and their tile maps ----------===//
//
// Each head class's set `common && (t_0 || ... || t_{n-1})` becomes the
// components `common && t_k && !t_0 && ... && !t_{k-1}` (attn.component),
// which partition it. For each, the conjuncts are matched against the forms
// whose tiles can be made dense, in the query coordinate q = i or
// q = i + Nk - Nq, by an exact linear analysis of the integer values; what is
// not recognized is contiguous.
//
//===----------------------------------------------------------------------===//
#include "attnc/Dialect/Attn/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SetVector.h"

namespace attnc::attn {
#define GEN_PASS_DEF_ATTNCOMPONENTS
#include "Passes.h.inc"
} // namespace attnc::attn

using namespace mlir;
using namespace attnc::attn;

namespace {

/// ci * i + cj * j + cNk * Nk + cNq * Nq + c, exactly (no overflow).
struct Lin {
  int64_t ci = 0, cj = 0, cNk = 0, cNq = 0, c = 0;
};

std::optional<int64_t> constantOf(Value v) {
  IntegerAttr attr;
  if (v.getType().isInteger(64) && matchPattern(v, m_Constant(&attr)))
    return attr.getInt();
  return std::nullopt;
}

std::optional<Lin> combine(const Lin &a, const Lin &b, int64_t sign) {
  Lin r;
  int64_t *out[] = {&r.ci, &r.cj, &r.cNk, &r.cNq, &r.c};
  const int64_t lhs[] = {a.ci, a.cj, a.cNk, a.cNq, a.c};
  const int64_t rhs[] = {b.ci, b.cj, b.cNk, b.cNq, b.c};
  for (int k = 0; k < 5; ++k) {
    int64_t scaled;
    if (__builtin_mul_overflow(rhs[k], sign, &scaled) ||
        __builtin_add_overflow(lhs[k], scaled, out[k]))
      return std::nullopt;
  }
  return r;
}

std::optional<Lin> linear(Value v, int depth = 0) {
  if (depth > 32 || !v.getType().isInteger(64))
    return std::nullopt;
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    Lin l;
    if (arg.getArgNumber() == 2)
      l.ci = 1;
    else if (arg.getArgNumber() == 3)
      l.cj = 1;
    else
      return std::nullopt;
    return l;
  }
  if (auto c = constantOf(v)) {
    Lin l;
    l.c = *c;
    return l;
  }
  Operation *op = v.getDefiningOp();
  if (auto dim = dyn_cast<DimOp>(op)) {
    Lin l;
    if (dim.getDim() == ShapeDim::Nk)
      l.cNk = 1;
    else if (dim.getDim() == ShapeDim::Nq)
      l.cNq = 1;
    else
      return std::nullopt;
    return l;
  }
  if (isa<arith::AddIOp, arith::SubIOp>(op)) {
    auto a = linear(op->getOperand(0), depth + 1), b = linear(op->getOperand(1), depth + 1);
    if (!a || !b)
      return std::nullopt;
    return combine(*a, *b, isa<arith::AddIOp>(op) ? 1 : -1);
  }
  if (auto mul = dyn_cast<arith::MulIOp>(op)) {
    for (int k = 0; k < 2; ++k)
      if (auto factor = constantOf(mul->getOperand(k)))
        if (auto x = linear(mul->getOperand(1 - k), depth + 1))
          return combine(Lin(), *x, *factor);
    return std::nullopt;
  }
  return std::nullopt;
}

/// The query coordinate q = i + s * (Nk - Nq), s in {0, 1}.
struct Coord {
  int64_t s = 0;
  int64_t offset = 0; // the constant added
};
bool offsetOk(const Lin &l, int64_t sign, int64_t &s) {
  if (l.cNk != -l.cNq || (l.cNk != 0 && l.cNk != sign))
    return false;
  s = l.cNk * sign;
  return true;
}
/// l == q + k
std::optional<Coord> asQuery(const Lin &l) {
  Coord c;
  if (l.ci != 1 || l.cj != 0 || !offsetOk(l, 1, c.s))
    return std::nullopt;
  c.offset = l.c;
  return c;
}
/// l == j + k
std::optional<int64_t> asKey(const Lin &l) {
  if (l.ci != 0 || l.cj != 1 || l.cNk != 0 || l.cNq != 0)
    return std::nullopt;
  return l.c;
}
/// l == sign * (q - j) + k
std::optional<Coord> asDifference(const Lin &l, int64_t sign) {
  Coord c;
  if (l.ci != sign || l.cj != -sign || !offsetOk(l, sign, c.s))
    return std::nullopt;
  c.offset = l.c;
  return c;
}

int64_t floorMod(int64_t a, int64_t b) {
  int64_t r = a % b;
  return r < 0 ? r + b : r;
}

/// What one conjunct says, when recognized.
struct Atom {
  enum Kind { None, Diagonal, Block, Column, Causal, Window } kind = None;
  int64_t s = 0;       // query coordinate (Diagonal, Block, Causal, Window)
  int64_t l = 0;       // modulus
  int64_t a = 0, b = 0; // Diagonal: residue a; Column: [a, b); Window: a
};

/// (pred, x, y) with x an attn.floormod / floordivsi by a constant l > 0.
template <typename OpT>
std::optional<std::pair<Value, int64_t>> byConstant(Value v) {
  auto op = v.getDefiningOp<OpT>();
  if (!op)
    return std::nullopt;
  auto l = constantOf(op->getOperand(1));
  if (!l || *l < 1)
    return std::nullopt;
  return std::make_pair(op->getOperand(0), *l);
}

Atom recognize(Value cond) {
  Atom atom;
  auto cmp = cond.getDefiningOp<arith::CmpIOp>();
  if (!cmp || !cmp.getLhs().getType().isInteger(64))
    return atom;
  arith::CmpIPredicate pred = cmp.getPredicate();
  Value x = cmp.getLhs(), y = cmp.getRhs();
  if (pred == arith::CmpIPredicate::eq) {
    for (int swap = 0; swap < 2; ++swap, std::swap(x, y)) {
      // floormod(+-(q - j) + k, l) == r
      if (auto mod = byConstant<FloorModOp>(x)) {
        auto r = constantOf(y);
        auto lin = linear(mod->first);
        if (r && lin && 0 <= *r && *r < mod->second) {
          int64_t l = mod->second;
          if (auto d = asDifference(*lin, 1)) // (q - j + k) mod l == r
            return {Atom::Diagonal, d->s, l, floorMod(*r - d->offset, l), 0};
          if (auto d = asDifference(*lin, -1)) // (j - q + k) mod l == r
            return {Atom::Diagonal, d->s, l, floorMod(d->offset - *r, l), 0};
        }
        // floormod(q + k1, l) == floormod(j + k2, l)
        auto other = byConstant<FloorModOp>(y);
        if (lin && other && other->second == mod->second)
          if (auto q = asQuery(*lin))
            if (auto ol = linear(other->first))
              if (auto k2 = asKey(*ol))
                return {Atom::Diagonal, q->s, mod->second, floorMod(*k2 - q->offset, mod->second),
                        0};
        // floormod(j, l) == r: a column range of width 1
        if (r && lin && asKey(*lin) == 0 && 0 <= *r && *r < mod->second)
          return {Atom::Column, 0, mod->second, *r, *r + 1};
      }
      // floordiv(q, l) == floordiv(j, l)
      auto dq = byConstant<arith::FloorDivSIOp>(x), dk = byConstant<arith::FloorDivSIOp>(y);
      if (dq && dk && dq->second == dk->second) {
        auto lq = linear(dq->first), lk = linear(dk->first);
        if (lq && lk)
          if (auto q = asQuery(*lq); q && q->offset == 0 && asKey(*lk) == 0)
            return {Atom::Block, q->s, dq->second, 0, 0};
      }
    }
    return atom;
  }
  // An order: normalize to E <= 0.
  int64_t extra, sign;
  switch (pred) {
  case arith::CmpIPredicate::slt: extra = 1, sign = 1; break;
  case arith::CmpIPredicate::sle: extra = 0, sign = 1; break;
  case arith::CmpIPredicate::sgt: extra = 1, sign = -1; break;
  case arith::CmpIPredicate::sge: extra = 0, sign = -1; break;
  default: return atom;
  }
  // floormod(j, l) against a constant: a column range.
  for (int side = 0; side < 2; ++side) {
    Value m = side ? y : x, k = side ? x : y;
    auto mod = byConstant<FloorModOp>(m);
    auto bound = constantOf(k);
    if (!mod || !bound)
      continue;
    auto lin = linear(mod->first);
    if (!lin || asKey(*lin) != 0)
      continue;
    // side 0: m pred k; side 1: k pred m. upper: m <= bound - extra, else m >= bound + extra.
    bool upper = (side == 0) == (sign == 1);
    int64_t l = mod->second, lo = 0, hi = l;
    __int128 limit = *bound;
    if (upper)
      hi = static_cast<int64_t>(std::clamp<__int128>(limit - extra + 1, 0, l));
    else
      lo = static_cast<int64_t>(std::clamp<__int128>(limit + extra, 0, l));
    if (lo >= hi)
      return atom; // empty: leave it to contiguous
    return {Atom::Column, 0, l, lo, hi};
  }
  auto a = linear(x), b = linear(y);
  if (!a || !b)
    return atom;
  auto e = sign == 1 ? combine(*a, *b, -1) : combine(*b, *a, -1);
  if (!e || __builtin_add_overflow(e->c, extra, &e->c))
    return atom;
  // -(q - j) + k <= 0: q - j >= k; causal when k == 0.
  if (auto d = asDifference(*e, -1); d && d->offset == 0)
    return {Atom::Causal, d->s, 0, 0, 0};
  // (q - j) + k <= 0: q - j < 1 - k, a window.
  if (auto d = asDifference(*e, 1); d && d->offset <= 0 && d->offset > INT64_MIN + 1)
    return {Atom::Window, d->s, 0, 1 - d->offset, 0};
  return atom;
}

void flatten(Value v, bool conj, SmallVectorImpl<Value> &out) {
  Operation *op = v.getDefiningOp();
  bool split = conj ? isa_and_nonnull<arith::AndIOp>(op) : isa_and_nonnull<arith::OrIOp>(op);
  if (split && v.getType().isInteger(1)) {
    flatten(op->getOperand(0), conj, out);
    flatten(op->getOperand(1), conj, out);
    return;
  }
  out.push_back(v);
}

/// What the negated earlier terms of a component bound, when each is one
/// recognized atom in the component's query coordinate `s`.
struct EarlierBounds {
  std::optional<int64_t> minDistance;   // !(q - j < w): q - j >= w
  std::optional<int64_t> earlierBlocks; // !(q / L == j / L), causal: j < L * floor(q / L)
  bool allUsed = true;                  // every negated term is one of these
};

/// The negation of a window is a lower bound on the distance; with causal,
/// the negation of a same_block leaves the keys of earlier blocks, an upper
/// bound per row that keeps the keys of a column_range or same_block form an
/// interval (for any block size). A conjunction, or a second block size, is
/// a union of such bounds: not recorded.
EarlierBounds earlierBounds(ArrayRef<Value> earlier, int64_t s, bool causal,
                            const std::optional<Atom> &form) {
  EarlierBounds bounds;
  bool rowIntervals = form && (form->kind == Atom::Column || form->kind == Atom::Block);
  for (Value e : earlier) {
    Atom atom = recognize(e);
    if (atom.kind == Atom::Window && atom.s == s)
      bounds.minDistance = std::max(bounds.minDistance.value_or(atom.a), atom.a);
    else if (atom.kind == Atom::Block && atom.s == s && causal && rowIntervals &&
             bounds.earlierBlocks.value_or(atom.l) == atom.l)
      bounds.earlierBlocks = atom.l;
    else
      bounds.allUsed = false;
  }
  return bounds;
}

struct Components : attnc::attn::impl::AttnComponentsBase<Components> {
  void runOnOperation() override {
    PatternOp pattern = getOperation();
    for (ComponentOp old : llvm::make_early_inc_range(pattern.getBodyBlock().getOps<ComponentOp>()))
      old.erase();
    if (AttendOp attend = pattern.getUnique<AttendOp>()) {
      split(attend, attend.getBody(), nullptr);
    } else if (HeadsOp heads = pattern.getUnique<HeadsOp>()) {
      llvm::SetVector<StringAttr> classes;
      for (Attribute attr : heads.getSets())
        classes.insert(cast<FlatSymbolRefAttr>(attr).getAttr());
      for (StringAttr name : classes)
        for (SetOp set : pattern.getBodyBlock().getOps<SetOp>())
          if (set.getSymNameAttr() == name)
            split(set, set.getBody(), FlatSymbolRefAttr::get(name));
    }
  }

  void split(Operation *owner, Region &body, FlatSymbolRefAttr of) {
    auto yield = cast<YieldOp>(body.front().getTerminator());
    SmallVector<Value> conjuncts, terms, common;
    flatten(yield.getValues()[0], true, conjuncts);
    Value disjunction;
    for (Value c : conjuncts) {
      if (!disjunction && isa_and_nonnull<arith::OrIOp>(c.getDefiningOp()))
        disjunction = c;
      else
        common.push_back(c);
    }
    if (disjunction)
      flatten(disjunction, false, terms);
    else
      terms.push_back(yield.getValues()[0]), common.clear();

    OpBuilder builder(owner->getContext());
    builder.setInsertionPointAfter(owner);
    for (size_t k = 0; k < terms.size(); ++k) {
      SmallVector<Value> positive(common);
      flatten(terms[k], true, positive);
      emit(builder, owner->getLoc(), body, of, k, positive, terms[k], ArrayRef(terms).take_front(k),
           common);
    }
  }

  void emit(OpBuilder &builder, Location loc, Region &body, FlatSymbolRefAttr of, int64_t index,
            ArrayRef<Value> positive, Value term, ArrayRef<Value> earlier, ArrayRef<Value> common) {
    // The form: the first diagonal, else block, else the intersection of the column ranges.
    std::optional<Atom> form;
    std::optional<Atom> column;
    SmallVector<Atom> bands;
    SmallVector<Atom> atoms;
    for (Value v : positive)
      atoms.push_back(recognize(v));
    for (const Atom &atom : atoms) {
      switch (atom.kind) {
      case Atom::Diagonal:
        if (!form || form->kind != Atom::Diagonal)
          form = atom;
        break;
      case Atom::Block:
        if (!form)
          form = atom;
        break;
      case Atom::Column:
        if (!column)
          column = atom;
        else if (column->l == atom.l)
          column->a = std::max(column->a, atom.a), column->b = std::min(column->b, atom.b);
        break;
      case Atom::Causal:
      case Atom::Window:
        bands.push_back(atom);
        break;
      case Atom::None:
        break;
      }
    }
    if (!form && column && column->a < column->b)
      form = column;
    int64_t s = form && form->kind != Atom::Column ? form->s : bands.empty() ? 0 : bands[0].s;
    bool causal = false;
    std::optional<int64_t> window;
    for (const Atom &band : bands) {
      if (band.s != s)
        continue;
      if (band.kind == Atom::Causal)
        causal = true;
      else
        window = window ? std::min(*window, band.a) : band.a;
    }
    EarlierBounds bounds = earlierBounds(earlier, s, causal, form);
    // Exact: every negated earlier term is a recorded bound and every
    // conjunct is implied by the form and bands recorded (so the component is
    // exactly those pairs).
    bool exact = bounds.allUsed;
    for (const Atom &atom : atoms) {
      bool used = false;
      switch (atom.kind) {
      case Atom::Diagonal:
      case Atom::Block:
        used = form && form->kind == atom.kind && form->s == atom.s &&
               form->l == atom.l && form->a == atom.a;
        break;
      case Atom::Column: // the form is the intersection of the ranges of one
                         // modulus
        used = form && form->kind == Atom::Column && form->l == atom.l &&
               atom.a <= form->a && form->b <= atom.b;
        break;
      case Atom::Causal:
      case Atom::Window:
        used = atom.s == s;
        break;
      case Atom::None:
        break;
      }
      exact = exact && used;
    }

    MLIRContext *context = builder.getContext();
    auto i64 = [&](int64_t v) { return builder.getI64IntegerAttr(v); };
    SmallVector<int64_t> contiguous = {0, 0, 1, 1, 1};
    SmallVector<int64_t> queryMap = contiguous, keyMap = contiguous;
    int64_t classes = 1;
    ComponentForm kind = ComponentForm::contiguous;
    IntegerAttr modulus, residue, lo, hi;
    if (form) {
      modulus = i64(form->l);
      switch (form->kind) {
      case Atom::Diagonal:
        kind = ComponentForm::residue_diagonal;
        residue = i64(form->a);
        classes = form->l;
        queryMap = {0, 1, 1, form->l, 0};
        keyMap = {-form->a, 1, 1, form->l, 0};
        break;
      case Atom::Column:
        kind = ComponentForm::column_range;
        lo = i64(form->a);
        hi = i64(form->b);
        keyMap = {form->a, 0, form->b - form->a, form->l, 1};
        break;
      default:
        kind = ComponentForm::same_block;
        break;
      }
    }
    auto component = builder.create<ComponentOp>(
        loc, of, i64(index), ComponentFormAttr::get(context, kind),
        s ? builder.getUnitAttr() : UnitAttr(), causal ? builder.getUnitAttr() : UnitAttr(),
        exact ? builder.getUnitAttr() : UnitAttr(), window ? i64(*window) : IntegerAttr(),
        bounds.minDistance ? i64(*bounds.minDistance) : IntegerAttr(),
        bounds.earlierBlocks ? i64(*bounds.earlierBlocks) : IntegerAttr(), modulus,
        residue, lo, hi, i64(classes), builder.getDenseI64ArrayAttr(queryMap),
        builder.getDenseI64ArrayAttr(keyMap));

    // The predicate: common && term && !earlier..., on a copy of the set's region.
    IRMapping mapping;
    body.cloneInto(&component.getBody(), mapping);
    Block &block = component.getBody().front();
    auto yield = cast<YieldOp>(block.getTerminator());
    OpBuilder inner(yield);
    Value result = mapping.lookup(term);
    for (Value c : common)
      result = inner.create<arith::AndIOp>(loc, mapping.lookup(c), result);
    if (!earlier.empty()) {
      Value one = inner.create<arith::ConstantIntOp>(loc, 1, 1);
      for (Value e : earlier)
        result = inner.create<arith::AndIOp>(
            loc, result, inner.create<arith::XOrIOp>(loc, mapping.lookup(e), one));
    }
    yield->setOperands(result);
    SmallVector<Operation *> ops;
    for (Operation &op : block.without_terminator())
      ops.push_back(&op);
    for (Operation *op : llvm::reverse(ops))
      if (isOpTriviallyDead(op))
        op->erase();
  }
};

} // namespace
