#include "attn/Bundle.h"

#include "attn/Error.h"

#include <algorithm>
#include <charconv>
#include <istream>
#include <iterator>
#include <map>
#include <ostream>
#include <set>
#include <sstream>

namespace attn {
namespace {

constexpr const char *kMagic = "attnc-bundle";
// 2: the backward kernels' names; 3: heads and components; 4: the components'
// backward kernels.
constexpr int kFormatVersion = 4;

constexpr ElementType kElementTypes[] = {ElementType::I32, ElementType::I64, ElementType::F32};

constexpr const char *kForms[] = {"contiguous", "residue_diagonal", "column_range", "same_block"};

// The words of a `component` line, in the order they are written; each is
// `key=value`, every one present once.
constexpr const char *kComponentKeys[] = {
    "set",     "index",   "form",    "aligned",     "causal",         "exact",
    "window",  "min_distance", "earlier_blocks", "modulus", "residue", "lo",
    "hi",      "classes", "query_map", "key_map", "attends", "forward_kernel",
    "backward_dq_kernel", "backward_dkdv_kernel"};

// The spelling of a run-time size in a `tensor` line, as the language names it.
const char *dimName(TensorDim::Kind kind) {
  switch (kind) {
  case TensorDim::Kind::H:
    return "H";
  case TensorDim::Kind::Nq:
    return "Nq";
  case TensorDim::Kind::Nk:
    return "Nk";
  case TensorDim::Kind::D:
    return "D";
  case TensorDim::Kind::Constant:
    break;
  }
  return "";
}

// Values run to the end of their line, so a line break would end them early.
void writeLine(std::ostream &os, const char *key, const std::string &value) {
  if (value.find('\n') != std::string::npos)
    throw Error(std::string("cannot write a bundle whose ") + key + " holds a line break");
  os << key << (value.empty() ? "" : " ") << value << '\n';
}

std::string optionalText(const std::optional<int64_t> &value) {
  return value ? std::to_string(*value) : "-";
}

std::string mapText(const TileMap &map) {
  std::string text;
  for (std::size_t k = 0; k < map.size(); ++k)
    text += (k ? "," : "") + std::to_string(map[k]);
  return text;
}

void writeComponent(std::ostream &os, const BundleComponent &c) {
  const std::string values[] = {c.set,
                                std::to_string(c.index),
                                c.form,
                                c.aligned ? "1" : "0",
                                c.causal ? "1" : "0",
                                c.exact ? "1" : "0",
                                optionalText(c.window),
                                optionalText(c.minDistance),
                                optionalText(c.earlierBlocks),
                                optionalText(c.modulus),
                                optionalText(c.residue),
                                optionalText(c.lo),
                                optionalText(c.hi),
                                std::to_string(c.classes),
                                mapText(c.queryMap),
                                mapText(c.keyMap),
                                c.attends,
                                c.forwardKernel,
                                c.backwardDqKernel,
                                c.backwardDkdvKernel};
  static_assert(std::size(values) == std::size(kComponentKeys));
  os << "component";
  for (std::size_t k = 0; k < std::size(values); ++k) {
    if (values[k].find_first_of(" \n") != std::string::npos)
      throw Error(std::string("cannot write a bundle whose component ") + kComponentKeys[k] +
                  " holds a space or line break");
    os << ' ' << kComponentKeys[k] << '=' << values[k];
  }
  os << '\n';
}

// Reads the key lines and the source of one bundle, reporting problems as
// "<origin>:<line>: <what>" (the line being the last one read).
class Reader {
public:
  Reader(std::istream &is, const std::string &origin) : is_(is), origin_(origin) {}

  Bundle read() {
    readMagic();
    std::string line;
    while (nextLine(line)) {
      std::size_t space = line.find(' ');
      std::string key = line.substr(0, space);
      std::string value = space == std::string::npos ? "" : line.substr(space + 1);
      if (key == "source") {
        readSource(value);
        return std::move(bundle_);
      }
      readKey(key, value);
    }
    fail("truncated: no 'source' line");
  }

private:
  [[noreturn]] void fail(const std::string &what) const {
    std::string where = lineNumber_ ? ":" + std::to_string(lineNumber_) : "";
    throw Error(origin_ + where + ": " + what);
  }

  bool nextLine(std::string &line) {
    if (!std::getline(is_, line))
      return false;
    ++lineNumber_;
    return true;
  }

  void readMagic() {
    std::string line;
    if (!nextLine(line))
      fail("empty file, not an attnc bundle");
    std::string expected = std::string(kMagic) + " " + std::to_string(kFormatVersion);
    if (line.rfind(std::string(kMagic) + " ", 0) != 0)
      fail("not an attnc bundle (expected '" + expected + "' on the first line)");
    if (line != expected)
      fail("unsupported bundle version '" + line.substr(std::string(kMagic).size() + 1) +
           "' (this runtime reads version " + std::to_string(kFormatVersion) +
           "; compile the pattern again with this attnc)");
  }

  void readKey(const std::string &key, const std::string &value) {
    // A tensor or component line repeats once per item; every other key is
    // said once.
    if (key != "tensor" && key != "component" && !seen_.insert(key).second)
      fail("duplicate key '" + key + "'");
    if (key == "pattern")
      bundle_.pattern = value;
    else if (key == "origin")
      bundle_.origin = value;
    else if (key == "params")
      bundle_.params = value;
    else if (key == "layout_kernel")
      bundle_.layoutKernel = value;
    else if (key == "forward_kernel")
      bundle_.forwardKernel = value;
    else if (key == "backward_dq_kernel")
      bundle_.backwardDqKernel = value;
    else if (key == "backward_dkdv_kernel")
      bundle_.backwardDkdvKernel = value;
    else if (key == "reads_batch")
      bundle_.readsBatch = readFlag(value);
    else if (key == "tensor")
      bundle_.tensors.push_back(readTensor(value));
    else if (key == "heads")
      bundle_.headSets = words(value);
    else if (key == "component")
      bundle_.components.push_back(readComponent(value));
    else
      fail("unknown key '" + key + "'");
  }

  int64_t readNumber(const std::string &text, const char *what) const {
    int64_t value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < 0)
      fail(std::string("bad number '") + text + "' for " + what);
    return value;
  }

  int64_t readSigned(const std::string &text, const std::string &what) const {
    int64_t value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size())
      fail("bad number '" + text + "' for " + what);
    return value;
  }

  bool readFlag(const std::string &text, const std::string &what = "reads_batch") const {
    if (text != "0" && text != "1")
      fail("bad number '" + text + "' for " + what + " (expected 0 or 1)");
    return text == "1";
  }

  static std::vector<std::string> words(const std::string &value) {
    std::istringstream stream(value);
    return {std::istream_iterator<std::string>(stream), std::istream_iterator<std::string>()};
  }

  std::optional<int64_t> readOptional(const std::string &text, const std::string &what) const {
    if (text == "-")
      return std::nullopt;
    return readSigned(text, what);
  }

  // Five comma-separated numbers; inner and outer_stride at least 1 (the
  // runtime counts rows through the map).
  TileMap readMap(const std::string &text, const std::string &what) const {
    TileMap map;
    std::size_t begin = 0;
    while (begin <= text.size()) {
      std::size_t comma = std::min(text.find(',', begin), text.size());
      map.push_back(readSigned(text.substr(begin, comma - begin), what));
      begin = comma + 1;
    }
    if (map.size() != 5 || map[2] < 1 || map[3] < 1)
      fail("bad tile map '" + text + "' for " + what +
           " (expected base,base_step,inner,outer_stride,inner_stride with inner and "
           "outer_stride at least 1)");
    return map;
  }

  // "key=value ..." with every key of kComponentKeys once.
  BundleComponent readComponent(const std::string &value) const {
    std::map<std::string, std::string> fields;
    for (const std::string &word : words(value)) {
      std::size_t equals = word.find('=');
      std::string key = word.substr(0, equals);
      if (equals == std::string::npos ||
          std::find(std::begin(kComponentKeys), std::end(kComponentKeys), key) ==
              std::end(kComponentKeys))
        fail("unknown component field '" + word + "'");
      if (!fields.emplace(key, word.substr(equals + 1)).second)
        fail("duplicate component field '" + key + "'");
    }
    for (const char *key : kComponentKeys)
      if (!fields.count(key))
        fail(std::string("component line without '") + key + "='");
    BundleComponent c;
    c.set = fields["set"];
    c.index = readNumber(fields["index"], "a component index");
    c.form = fields["form"];
    if (std::find(std::begin(kForms), std::end(kForms), c.form) == std::end(kForms))
      fail("unknown component form '" + c.form +
           "' (expected contiguous, residue_diagonal, column_range or same_block)");
    c.aligned = readFlag(fields["aligned"], "component aligned");
    c.causal = readFlag(fields["causal"], "component causal");
    c.exact = readFlag(fields["exact"], "component exact");
    c.window = readOptional(fields["window"], "a component window");
    c.minDistance = readOptional(fields["min_distance"], "a component min_distance");
    c.earlierBlocks = readOptional(fields["earlier_blocks"], "a component earlier_blocks");
    c.modulus = readOptional(fields["modulus"], "a component modulus");
    c.residue = readOptional(fields["residue"], "a component residue");
    c.lo = readOptional(fields["lo"], "a component lo");
    c.hi = readOptional(fields["hi"], "a component hi");
    c.classes = readNumber(fields["classes"], "component classes");
    if (c.classes < 1)
      fail("a component has at least one class, not " + fields["classes"]);
    c.queryMap = readMap(fields["query_map"], "a component query_map");
    c.keyMap = readMap(fields["key_map"], "a component key_map");
    c.attends = fields["attends"];
    c.forwardKernel = fields["forward_kernel"];
    c.backwardDqKernel = fields["backward_dq_kernel"];
    c.backwardDkdvKernel = fields["backward_dkdv_kernel"];
    if (c.attends.empty() || c.forwardKernel.empty() || c.backwardDqKernel.empty() ||
        c.backwardDkdvKernel.empty())
      fail("a component without its attends function, forward kernel or backward kernels");
    return c;
  }

  ElementType readElementType(const std::string &text) const {
    for (ElementType type : kElementTypes)
      if (text == elementTypeName(type))
        return type;
    fail("unknown element type '" + text + "' (expected i32, i64 or f32)");
  }

  TensorDim readDim(const std::string &text) const {
    for (auto kind : {TensorDim::Kind::H, TensorDim::Kind::Nq, TensorDim::Kind::Nk,
                      TensorDim::Kind::D})
      if (text == dimName(kind))
        return {kind, 0};
    return {TensorDim::Kind::Constant, readNumber(text, "a tensor dimension")};
  }

  // "NAME TYPE DIM..."
  BundleTensor readTensor(const std::string &value) const {
    std::istringstream words(value);
    BundleTensor tensor;
    std::string type, dim;
    if (!(words >> tensor.name >> type))
      fail("malformed tensor line (expected 'tensor NAME TYPE DIM...')");
    tensor.type = readElementType(type);
    while (words >> dim)
      tensor.dims.push_back(readDim(dim));
    if (tensor.dims.empty())
      fail("tensor '" + tensor.name + "' has no dimensions");
    return tensor;
  }

  // The rest of the stream is the source, to the byte: read it whole rather
  // than trust a length that may be corrupt.
  void readSource(const std::string &value) {
    int64_t bytes = readNumber(value, "the source length");
    std::string rest(std::istreambuf_iterator<char>(is_), {});
    if (static_cast<int64_t>(rest.size()) < bytes)
      fail("truncated source: expected " + std::to_string(bytes) + " bytes, got " +
           std::to_string(rest.size()));
    if (static_cast<int64_t>(rest.size()) > bytes)
      fail("unexpected data after the " + std::to_string(bytes) + " bytes of source");
    bundle_.source = std::move(rest);
  }

  std::istream &is_;
  const std::string &origin_;
  int lineNumber_ = 0;
  std::set<std::string> seen_;
  Bundle bundle_;
};

} // namespace

const char *elementTypeName(ElementType type) {
  switch (type) {
  case ElementType::I32:
    return "i32";
  case ElementType::I64:
    return "i64";
  case ElementType::F32:
    return "f32";
  }
  return "?";
}

std::size_t elementBytes(ElementType type) { return type == ElementType::I64 ? 8 : 4; }

std::string tensorDimText(const TensorDim &dim) {
  return dim.kind == TensorDim::Kind::Constant ? std::to_string(dim.value) : dimName(dim.kind);
}

void writeBundle(const Bundle &bundle, std::ostream &os) {
  os << kMagic << ' ' << kFormatVersion << '\n';
  writeLine(os, "pattern", bundle.pattern);
  writeLine(os, "origin", bundle.origin);
  writeLine(os, "params", bundle.params);
  writeLine(os, "layout_kernel", bundle.layoutKernel);
  writeLine(os, "forward_kernel", bundle.forwardKernel);
  writeLine(os, "backward_dq_kernel", bundle.backwardDqKernel);
  writeLine(os, "backward_dkdv_kernel", bundle.backwardDkdvKernel);
  os << "reads_batch " << (bundle.readsBatch ? 1 : 0) << '\n';
  for (const BundleTensor &tensor : bundle.tensors) {
    os << "tensor " << tensor.name << ' ' << elementTypeName(tensor.type);
    for (const TensorDim &dim : tensor.dims)
      os << ' ' << tensorDimText(dim);
    os << '\n';
  }
  std::string heads;
  for (const std::string &set : bundle.headSets)
    heads += (heads.empty() ? "" : " ") + set;
  writeLine(os, "heads", heads);
  for (const BundleComponent &component : bundle.components)
    writeComponent(os, component);
  os << "source " << bundle.source.size() << '\n' << bundle.source;
}

const std::string &headSet(const Bundle &bundle, int64_t h) {
  static const std::string attend;
  if (bundle.headSets.empty())
    return attend;
  return bundle.headSets[static_cast<std::size_t>(h) % bundle.headSets.size()];
}

Bundle readBundle(std::istream &is, const std::string &origin) {
  return Reader(is, origin).read();
}

} // namespace attn
