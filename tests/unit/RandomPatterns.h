//===- RandomPatterns.h - Random .pattern sources for unit tests ----------===//
//
// Patterns built from the forms attn-components recognizes (residue
// diagonals, residue classes, column ranges, blocks, windows, causal) and some
// it must not (h-dependent conjuncts, nested ||), combined by && and ||, and
// the unions whose later terms a negated window or block bounds (strided_merged
// and fixed, in either order and with other moduli), in the
// query coordinate q = i or q = i + Nk - Nq, over attend or per-head sets.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <random>
#include <string>

namespace attnc::testing {

struct RandomPatterns {
  std::mt19937 &rng;
  int64_t pick(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); }

  /// One atom; the query coordinate is `q`.
  std::string atom() {
    int64_t l = pick(1, 24);
    switch (pick(0, 12)) {
    case 0: return fmt::format("(q - j) % {} == {}", l, pick(-1, l));
    case 1: return fmt::format("(j - q + {}) % {} == {}", pick(-30, 30), l, pick(0, l - 1));
    case 2: return fmt::format("q % {} == j % {}", l, l);
    case 3: return fmt::format("(q + {}) % {} == (j + {}) % {}", pick(-9, 9), l, pick(-9, 9), l);
    case 4: return fmt::format("j % {} >= {}", l, pick(-2, l + 1));
    case 5: return fmt::format("j % {} < {}", l, pick(-1, l + 1));
    case 6: {
      int64_t a = pick(0, l);
      return fmt::format("j % {} >= {} && j % {} < {}", l, a, l, pick(a, l + 1));
    }
    case 7: return fmt::format("j % {} == {}", l, pick(0, l));
    case 8: return fmt::format("q / {} == j / {}", l, l);
    case 9: return fmt::format("q - j < {}", pick(-3, 40));
    case 10: return fmt::format("j <= q");
    case 11: return fmt::format("{} % {} <= {} % 3", "(2 * i + j)", l, "h"); // not a form
    default: return fmt::format("j < {} || i >= {}", pick(0, 40), pick(0, 40)); // nested ||
    }
  }
  std::string term() {
    std::string t = atom();
    if (pick(0, 2) == 0)
      t = "(" + t + ") && (" + atom() + ")";
    return t;
  }
  /// A window or block, then a diagonal or column range: the later term is
  /// bounded by the negated earlier one (swapped, it is not).
  std::string boundedUnion() {
    int64_t l = pick(1, 24), w = pick(1, 40);
    std::string first = pick(0, 1) ? fmt::format("q - j < {}", w)
                                   : fmt::format("q / {} == j / {}", l, l);
    int64_t m = pick(0, 1) ? l : pick(1, 24);
    std::string second = pick(0, 1) ? fmt::format("(q - j) % {} == {}", m, pick(0, m - 1))
                                    : fmt::format("j % {} >= {}", m, pick(0, m - 1));
    return pick(0, 3) ? first + " || " + second : second + " || " + first;
  }
  std::string set() {
    if (pick(0, 4) == 0)
      return boundedUnion();
    std::string s;
    int64_t n = pick(1, 4);
    for (int64_t k = 0; k < n; ++k)
      s += (k ? " || " : "") + std::string("(") + term() + ")";
    if (pick(0, 2) == 0)
      s = "(" + atom() + ") && (" + s + ")";
    return s;
  }
  std::string pattern() {
    std::string body = pick(0, 1) ? "causal;\n" : "";
    body += pick(0, 2) ? "let q = i + Nk - Nq;\n" : "let q = i;\n";
    if (pick(0, 1)) {
      body += "attend = " + set() + ";\n";
    } else {
      int64_t n = pick(1, 3);
      std::string heads;
      for (int64_t k = 0; k < n; ++k) {
        body += fmt::format("set s{} = {};\n", k, set());
        heads += fmt::format("{}s{}", k ? ", " : "", pick(0, k));
      }
      body += "heads = [" + heads + "];\n";
    }
    return "pattern p {\n" + body + "}\n";
  }
};

} // namespace attnc::testing
