//===- Suite.cpp - Benchmark suite files for attnc-bench -------------------===//
#include "Suite.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <set>

namespace attnc::bench {
namespace {

using llvm::json::Array;
using llvm::json::Object;
using llvm::json::Value;

llvm::Error failure(const std::string &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// The generator of every fill: a 64-bit LCG (Knuth's MMIX constants),
/// returning the top 31 bits of the state, which a short Python script can
/// reproduce exactly.
class Generator {
public:
  explicit Generator(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    state_ = state_ * 6364136223846793005ull + 1442695040888963407ull;
    return state_ >> 33;
  }

private:
  uint64_t state_;
};

/// The keys that may be a value or a list of values, in the order after N
/// and D in which lists expand (N outermost, then D, then these).
const char *const kIntegerShapeKeys[] = {"N", "D", "B", "H", "Hkv", "BQ"};

/// The problem sizes of a case before expansion: for each key given, its
/// values and where they came from (for errors).
struct ShapeLists {
  std::map<std::string, std::vector<int64_t>> integers;
  std::vector<std::string> dtypes;
  std::map<std::string, std::string> where;
};

/// A shape key's values: the list's items, or the one value given.
std::vector<Value> scalarOrList(const Value &value) {
  if (const Array *list = value.getAsArray())
    return std::vector<Value>(list->begin(), list->end());
  return {value};
}

/// A number as a parameter value `attnc -D` takes: integral values (30 and
/// 30.0 alike: llvm::json does not tell them apart) as integers, others in
/// the fewest digits that read back to the same double.
std::string numberText(const Value &value) {
  if (std::optional<int64_t> integer = value.getAsInteger())
    return std::to_string(*integer);
  double number = *value.getAsNumber();
  char text[64];
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, number);
    if (std::strtod(text, nullptr) == number)
      break;
  }
  return text;
}

/// Reads one suite file's JSON into cases, naming the file in every error.
class SuiteParser {
public:
  SuiteParser(const std::string &path, const std::string &patternsDir)
      : path_(path), patternsDir_(patternsDir) {}

  llvm::Expected<Suite> parse(llvm::StringRef text);

private:
  llvm::Error error(const std::string &where, const std::string &what) const {
    return failure(path_ + ": " + where + ": " + what);
  }
  llvm::Error syntaxError(llvm::Error parseError) const;
  llvm::Error checkKeys(const Object &object, const std::string &where,
                        const std::set<std::string> &allowed) const;
  llvm::Error readShape(const Object &object, const std::string &where, ShapeLists &shape) const;
  llvm::Error readCase(const Value &value, const std::string &where, const ShapeLists &defaults,
                       bool layoutOnly, std::vector<Case> &out) const;
  llvm::Error readParams(const Value &value, const std::string &where, Case &c) const;
  llvm::Error readTensors(const Value &value, const std::string &where, Case &c) const;
  llvm::Expected<Fill> readFill(const Value &value, const std::string &where) const;
  llvm::Error findFile(const Object &object, const std::string &where, Case &c) const;
  llvm::Error checkShape(const Case &c, const ShapeLists &shape, const std::string &where) const;
  llvm::Error expand(const Case &base, const ShapeLists &shape, const std::string &where,
                     std::vector<Case> &out) const;
  llvm::Error readCaseList(const Object &top, const char *key, const ShapeLists &defaults,
                           bool layoutOnly, std::vector<Case> &out) const;

  std::string path_, patternsDir_;
};

/// llvm::json reports "[line:column, byte=offset]: message" with a 0-based
/// column; the suite's error says file:line:column (1-based) as compilers do.
llvm::Error SuiteParser::syntaxError(llvm::Error parseError) const {
  std::string message = llvm::toString(std::move(parseError));
  unsigned line = 0, column = 0, offset = 0;
  int consumed = 0;
  if (std::sscanf(message.c_str(), "[%u:%u, byte=%u]: %n", &line, &column, &offset,
                  &consumed) == 3 &&
      consumed > 0)
    return failure(path_ + ":" + std::to_string(line) + ":" + std::to_string(column + 1) +
                   ": " + message.substr(consumed));
  return failure(path_ + ": " + message);
}

/// Unknown keys are errors: a misspelt key must not silently do nothing.
llvm::Error SuiteParser::checkKeys(const Object &object, const std::string &where,
                                   const std::set<std::string> &allowed) const {
  std::vector<std::string> keys;
  for (const auto &entry : object)
    keys.push_back(entry.first.str());
  std::sort(keys.begin(), keys.end()); // Object's order is a hash's
  for (const std::string &key : keys)
    if (!allowed.count(key)) {
      std::string known;
      for (const std::string &name : allowed)
        known += (known.empty() ? "" : ", ") + name;
      return error(where + (where.empty() ? "" : ".") + key, "unknown key (known: " + known + ")");
    }
  return llvm::Error::success();
}

llvm::Error SuiteParser::readShape(const Object &object, const std::string &where,
                                   ShapeLists &shape) const {
  for (const char *key : kIntegerShapeKeys) {
    const Value *value = object.get(key);
    if (!value)
      continue;
    std::string at = where + "." + key;
    std::vector<int64_t> numbers;
    for (const Value &item : scalarOrList(*value)) {
      std::optional<int64_t> number = item.getAsInteger();
      if (!number || *number < 1)
        return error(at, "expected a positive integer or a list of them");
      numbers.push_back(*number);
    }
    if (numbers.empty())
      return error(at, "expected a positive integer or a list of them, not an empty list");
    shape.integers[key] = numbers;
    shape.where[key] = at;
  }
  if (const Value *value = object.get("dtype")) {
    std::string at = where + ".dtype";
    std::vector<std::string> dtypes;
    for (const Value &item : scalarOrList(*value)) {
      std::optional<llvm::StringRef> dtype = item.getAsString();
      if (!dtype || (*dtype != "bf16" && *dtype != "fp16"))
        return error(at, "expected \"bf16\", \"fp16\" or a list of them");
      dtypes.push_back(dtype->str());
    }
    if (dtypes.empty())
      return error(at, "expected \"bf16\", \"fp16\" or a list of them, not an empty list");
    shape.dtypes = dtypes;
    shape.where["dtype"] = at;
  }
  return llvm::Error::success();
}

llvm::Error SuiteParser::readParams(const Value &value, const std::string &where,
                                    Case &c) const {
  const Object *params = value.getAsObject();
  if (!params)
    return error(where, "expected an object of parameter values (name: value)");
  for (const auto &[name, param] : *params) {
    std::string at = where + "." + name.str();
    if (param.getAsNumber())
      c.params.emplace_back(name.str(), numberText(param));
    else if (std::optional<llvm::StringRef> text = param.getAsString())
      c.params.emplace_back(name.str(), text->str());
    else if (std::optional<bool> flag = param.getAsBoolean())
      c.params.emplace_back(name.str(), *flag ? "true" : "false");
    else
      return error(at, "expected a number, a string or a boolean");
  }
  std::sort(c.params.begin(), c.params.end());
  return llvm::Error::success();
}

llvm::Expected<Fill> SuiteParser::readFill(const Value &value, const std::string &where) const {
  const Object *object = value.getAsObject();
  if (!object)
    return error(where, "expected a fill object such as {\"fill\": \"documents\", \"count\": 12, "
                        "\"seed\": 1}");
  std::optional<llvm::StringRef> kind = object->getString("fill");
  Fill fill;
  if (const Value *seed = object->get("seed")) {
    std::optional<int64_t> number = seed->getAsInteger();
    if (!number || *number < 0)
      return error(where + ".seed", "expected a non-negative integer");
    fill.seed = static_cast<uint64_t>(*number);
  }
  if (kind == "documents") {
    if (llvm::Error keys = checkKeys(*object, where, {"fill", "count", "seed"}))
      return keys;
    const Value *count = object->get("count");
    std::optional<int64_t> number = count ? count->getAsInteger() : std::nullopt;
    if (!number || *number < 1)
      return error(where + ".count", "expected a positive integer (the number of documents)");
    fill.kind = Fill::Kind::Documents;
    fill.count = *number;
    return fill;
  }
  if (kind == "uniform") {
    if (llvm::Error keys = checkKeys(*object, where, {"fill", "low", "high", "seed"}))
      return keys;
    std::optional<double> low = object->getNumber("low"), high = object->getNumber("high");
    if (!low)
      return error(where + ".low", "expected a number");
    if (!high)
      return error(where + ".high", "expected a number");
    if (!(*low < *high) || !std::isfinite(*high - *low))
      return error(where, "expected finite low < high");
    fill.kind = Fill::Kind::Uniform;
    fill.low = *low;
    fill.high = *high;
    return fill;
  }
  return error(where + ".fill", "expected \"documents\" or \"uniform\"");
}

llvm::Error SuiteParser::readTensors(const Value &value, const std::string &where,
                                     Case &c) const {
  const Object *tensors = value.getAsObject();
  if (!tensors)
    return error(where, "expected an object of fills (tensor name: fill)");
  for (const auto &[name, spec] : *tensors) {
    llvm::Expected<Fill> fill = readFill(spec, where + "." + name.str());
    if (!fill)
      return fill.takeError();
    c.tensors[name.str()] = *fill;
  }
  return llvm::Error::success();
}

bool isIdentifier(llvm::StringRef name) {
  if (name.empty() || !(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_'))
    return false;
  return llvm::all_of(name, [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_';
  });
}

/// An absolute path without "." and ".." (listings and reports name it).
std::string normalized(llvm::StringRef path) {
  llvm::SmallString<256> absolute(path);
  llvm::sys::fs::make_absolute(absolute);
  llvm::sys::path::remove_dots(absolute, /*remove_dot_dot=*/true);
  return absolute.str().str();
}

/// The .pattern file of a case: "file" relative to the suite's folder, or
/// <pattern>.pattern in the patterns folder (bench/README.md).
llvm::Error SuiteParser::findFile(const Object &object, const std::string &where,
                                  Case &c) const {
  std::optional<llvm::StringRef> pattern = object.getString("pattern");
  const Value *file = object.get("file");
  if (object.get("pattern") && (!pattern || !isIdentifier(*pattern)))
    return error(where + ".pattern", "expected a pattern name (letters, digits, _)");
  llvm::SmallString<256> folder(llvm::sys::path::parent_path(path_));
  if (folder.empty())
    folder = ".";
  std::vector<std::string> candidates;
  if (file) {
    std::optional<llvm::StringRef> text = file->getAsString();
    if (!text || text->empty())
      return error(where + ".file", "expected the path of a .pattern file");
    llvm::SmallString<256> candidate(*text);
    if (llvm::sys::path::is_relative(candidate))
      candidate = (folder + "/" + *text).str();
    candidates.push_back(candidate.str().str());
    c.pattern = pattern ? pattern->str() : llvm::sys::path::stem(*text).str();
  } else if (pattern) {
    c.pattern = pattern->str();
    if (!patternsDir_.empty())
      candidates.push_back(patternsDir_ + "/" + c.pattern + ".pattern");
    else
      for (const char *up : {"/../patterns/", "/../../patterns/"})
        candidates.push_back((folder + up + c.pattern + ".pattern").str());
  } else {
    return error(where, "a case needs \"pattern\" (a name) or \"file\"");
  }
  for (const std::string &candidate : candidates)
    if (llvm::sys::fs::is_regular_file(candidate)) {
      c.file = normalized(candidate);
      return llvm::Error::success();
    }
  std::string tried;
  for (const std::string &candidate : candidates)
    tried += (tried.empty() ? "" : ", ") + candidate;
  return error(where + (file ? ".file" : ".pattern"), "no such pattern file (looked for " +
                                                         tried + ")");
}

/// What the kernels and the case's fills cannot take in one expanded case.
llvm::Error SuiteParser::checkShape(const Case &c, const ShapeLists &shape,
                                    const std::string &where) const {
  if (c.D != 64 && c.D != 128)
    return error(shape.where.at("D"), "the kernels take D = 64 or 128, not " +
                                          std::to_string(c.D));
  if (c.blockQ != 64 && c.blockQ != 128)
    return error(shape.where.at("BQ"), "the forward takes query blocks of 64 or 128 rows, not " +
                                           std::to_string(c.blockQ));
  if (c.H % c.Hkv != 0)
    return error(shape.where.count("Hkv") ? shape.where.at("Hkv") : where,
                 "Hkv = " + std::to_string(c.Hkv) + " does not divide H = " +
                     std::to_string(c.H));
  for (const auto &[name, fill] : c.tensors)
    if (fill.kind == Fill::Kind::Documents && fill.count > c.N)
      return error(where + ".tensors." + name + ".count",
                   std::to_string(fill.count) + " non-empty documents need N >= " +
                       std::to_string(fill.count) + ", not N = " + std::to_string(c.N));
  return llvm::Error::success();
}

/// One case per combination of the lists: N outermost, then D, B, H, Hkv,
/// dtype, BQ.
llvm::Error SuiteParser::expand(const Case &base, const ShapeLists &shape,
                                const std::string &where, std::vector<Case> &out) const {
  auto listOf = [&](const char *key, std::vector<int64_t> fallback) {
    auto found = shape.integers.find(key);
    return found == shape.integers.end() ? fallback : found->second;
  };
  if (!shape.integers.count("N"))
    return error(where, "no N (give it in the case or in \"defaults\")");
  // A layout case's Attention is made for one head dim: D is not its key.
  std::vector<int64_t> dims = base.layoutOnly ? std::vector<int64_t>{kLayoutCaseHeadDim}
                                              : listOf("D", {128});
  std::vector<std::string> dtypes = shape.dtypes.empty() ? std::vector<std::string>{"bf16"}
                                                         : shape.dtypes;
  for (int64_t n : listOf("N", {}))
    for (int64_t d : dims)
      for (int64_t b : listOf("B", {1}))
        for (int64_t h : listOf("H", {16}))
          for (int64_t hkv : listOf("Hkv", {h}))
            for (const std::string &dtype : dtypes)
              for (int64_t bq : listOf("BQ", {kDefaultBlockQ})) {
                Case c = base;
                c.N = n, c.D = d, c.B = b, c.H = h, c.Hkv = hkv, c.dtype = dtype, c.blockQ = bq;
                if (llvm::Error bad = checkShape(c, shape, where))
                  return bad;
                c.id = caseId(c);
                out.push_back(std::move(c));
              }
  return llvm::Error::success();
}

llvm::Error SuiteParser::readCase(const Value &value, const std::string &where,
                                  const ShapeLists &defaults, bool layoutOnly,
                                  std::vector<Case> &out) const {
  const Object *object = value.getAsObject();
  if (!object)
    return error(where, "expected an object");
  std::set<std::string> allowed = {"pattern", "file", "params", "tensors",
                                   "B", "H", "Hkv", "N", "dtype", "BQ"};
  if (!layoutOnly)
    allowed.insert("D");
  if (llvm::Error keys = checkKeys(*object, where, allowed))
    return keys;
  Case c;
  c.layoutOnly = layoutOnly;
  if (llvm::Error found = findFile(*object, where, c))
    return found;
  if (const Value *params = object->get("params"))
    if (llvm::Error bad = readParams(*params, where + ".params", c))
      return bad;
  if (const Value *tensors = object->get("tensors"))
    if (llvm::Error bad = readTensors(*tensors, where + ".tensors", c))
      return bad;
  ShapeLists shape = defaults; // the case's own keys override the defaults
  if (llvm::Error bad = readShape(*object, where, shape))
    return bad;
  return expand(c, shape, where, out);
}

llvm::Error SuiteParser::readCaseList(const Object &top, const char *key,
                                      const ShapeLists &defaults, bool layoutOnly,
                                      std::vector<Case> &out) const {
  const Value *value = top.get(key);
  if (!value)
    return layoutOnly ? llvm::Error::success() : error(key, "missing (a list of cases)");
  const Array *list = value->getAsArray();
  if (!list)
    return error(key, "expected a list of cases");
  for (size_t k = 0; k < list->size(); ++k)
    if (llvm::Error bad = readCase((*list)[k], std::string(key) + "[" + std::to_string(k) + "]",
                                   defaults, layoutOnly, out))
      return bad;
  return llvm::Error::success();
}

/// Two cases with one id would overwrite each other's results.
llvm::Error checkUniqueIds(const Suite &suite) {
  std::set<std::string> seen;
  for (const std::vector<Case> *cases : {&suite.cases, &suite.layoutCases})
    for (const Case &c : *cases)
      if (!seen.insert((c.layoutOnly ? "layout " : "") + c.id).second)
        return failure(suite.path + ": two " + (c.layoutOnly ? "layout cases" : "cases") +
                       " expand to the same id '" + c.id + "'");
  return llvm::Error::success();
}

llvm::Expected<Suite> SuiteParser::parse(llvm::StringRef text) {
  llvm::Expected<Value> json = llvm::json::parse(text);
  if (!json)
    return syntaxError(json.takeError());
  const Object *top = json->getAsObject();
  if (!top)
    return failure(path_ + ": expected an object with \"cases\"");
  if (llvm::Error keys = checkKeys(*top, "", {"description", "defaults", "cases", "layout_cases"}))
    return keys;
  Suite suite;
  suite.path = path_;
  if (const Value *description = top->get("description")) {
    if (!description->getAsString())
      return error("description", "expected a string");
    suite.description = description->getAsString()->str();
  }
  ShapeLists defaults;
  if (const Value *value = top->get("defaults")) {
    const Object *object = value->getAsObject();
    if (!object)
      return error("defaults", "expected an object of shape keys");
    if (llvm::Error keys = checkKeys(*object, "defaults", {"B", "H", "Hkv", "N", "D", "dtype", "BQ"}))
      return keys;
    if (llvm::Error bad = readShape(*object, "defaults", defaults))
      return bad;
  }
  if (llvm::Error bad = readCaseList(*top, "cases", defaults, false, suite.cases))
    return bad;
  // Layout cases keep one head dim whatever the defaults list.
  ShapeLists layoutDefaults = defaults;
  layoutDefaults.integers.erase("D");
  if (llvm::Error bad =
          readCaseList(*top, "layout_cases", layoutDefaults, true, suite.layoutCases))
    return bad;
  if (llvm::Error bad = checkUniqueIds(suite))
    return bad;
  return suite;
}

} // namespace

std::string caseId(const Case &c) {
  std::string id = c.pattern;
  if (!c.params.empty()) {
    id += "(";
    for (size_t k = 0; k < c.params.size(); ++k)
      id += (k ? "," : "") + c.params[k].first + "=" + c.params[k].second;
    id += ")";
  }
  id += " B=" + std::to_string(c.B) + " H=" + std::to_string(c.H) +
        " Hkv=" + std::to_string(c.Hkv) + " N=" + std::to_string(c.N);
  if (!c.layoutOnly)
    id += " D=" + std::to_string(c.D) + " " + c.dtype;
  if (c.blockQ != kDefaultBlockQ)
    id += " BQ=" + std::to_string(c.blockQ);
  return id;
}

llvm::Expected<Suite> parseSuite(llvm::StringRef text, const std::string &path,
                                 const std::string &patternsDir) {
  return SuiteParser(path, patternsDir).parse(text);
}

llvm::Expected<Suite> loadSuite(const std::string &path, const std::string &patternsDir) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer)
    return failure("cannot read suite file " + path + ": " + buffer.getError().message());
  return parseSuite((*buffer)->getBuffer(), path, patternsDir);
}

std::vector<int32_t> documentIds(int64_t n, int64_t count, uint64_t seed) {
  Generator generator(seed);
  std::set<int64_t> cuts;
  while (static_cast<int64_t>(cuts.size()) < count - 1)
    cuts.insert(1 + static_cast<int64_t>(generator.next() % static_cast<uint64_t>(n - 1)));
  std::vector<int32_t> ids(n);
  auto cut = cuts.begin();
  int32_t id = 0;
  for (int64_t j = 0; j < n; ++j) {
    for (; cut != cuts.end() && *cut <= j; ++cut)
      ++id;
    ids[j] = id;
  }
  return ids;
}

std::vector<float> uniformValues(int64_t elements, double low, double high, uint64_t seed) {
  Generator generator(seed);
  std::vector<float> values(elements);
  for (float &value : values)
    value = static_cast<float>(low + (high - low) * (double(generator.next()) / 2147483648.0));
  return values;
}

} // namespace attnc::bench
