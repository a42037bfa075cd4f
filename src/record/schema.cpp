#include "bnlandscape/record/schema.h"

#include <cctype>

#include "bnlandscape/core/error.h"
#include "bnlandscape/core/parse.h"
#include "schema_groups.h"

namespace bnl::record::schema {
namespace {

// The inner dims of a series shape: every symbol after n, e.g. "[n, L, K]" -> {L, K}.
std::vector<std::int64_t> inner_dims(const Item& c, const Sizes& sizes) {
  std::string s = c.shape;
  if (s.size() < 2 || s.front() != '[' || s.back() != ']')
    throw InternalError("schema: column '" + c.name + "' has shape '" + s + "', expected [n, ...]");
  std::vector<std::string> dims;
  std::string cur;
  for (char ch : s.substr(1, s.size() - 2)) {
    if (ch == ',') {
      dims.push_back(core::trim(cur));
      cur.clear();
    } else {
      cur += ch;
    }
  }
  dims.push_back(core::trim(cur));
  std::vector<std::int64_t> out;
  for (std::size_t i = 1; i < dims.size(); ++i) {
    std::int64_t product = 1;
    std::string factor;
    const std::string d = dims[i] + "*";
    for (char ch : d) {
      if (ch != '*') {
        factor += ch;
        continue;
      }
      factor = core::trim(factor);
      if (!factor.empty() && std::isdigit(static_cast<unsigned char>(factor[0]))) {
        product *= std::stoll(factor);
      } else {
        const auto it = sizes.find(factor);
        if (it == sizes.end())
          throw InternalError("schema: column '" + c.name + "' needs the size '" + factor + "', not given");
        product *= it->second;
      }
      factor.clear();
    }
    out.push_back(product);
  }
  return out;
}

bool present(const Item& c, const Sizes& sizes) {
  if (c.only_if.empty()) return true;
  const auto it = sizes.find(c.only_if);
  return it != sizes.end() && it->second > 0;
}

}  // namespace

const std::vector<Group>& run_file() {
  static const std::vector<Group> all = [] {
    std::vector<Group> g = detail::train_groups();
    for (auto& p : detail::probe_groups()) g.push_back(std::move(p));
    for (auto& a : detail::analysis_groups()) g.push_back(std::move(a));
    return g;
  }();
  return all;
}

const Group& group(const std::string& path) {
  for (const auto& g : run_file())
    if (g.path == path) return g;
  throw InternalError("schema: no group '" + path + "' is declared");
}

const Item& item(const std::string& group_path, const std::string& name) {
  const Group& g = group(group_path);
  for (const auto* list : {&g.columns, &g.arrays})
    for (const auto& it : *list)
      if (it.name == name) return it;
  throw InternalError("schema: " + group_path + " declares no dataset '" + name + "'");
}

std::vector<io::ColumnSpec> series_columns(const Group& g, const Sizes& sizes) {
  std::vector<io::ColumnSpec> out;
  for (const auto& c : g.columns) {
    if (!present(c, sizes)) continue;
    const auto type = c.dtype == Dtype::Int64 ? io::ColumnType::Int64 : io::ColumnType::Float64;
    out.push_back({c.name, type, inner_dims(c, sizes), c.units, c.meaning});
  }
  return out;
}

const char* dtype_name(Dtype d) {
  switch (d) {
    case Dtype::Int64: return "int64";
    case Dtype::Float64: return "float64";
    case Dtype::String: return "str";
    case Dtype::StringArray: return "str[]";
    case Dtype::Tensor: return "tensor";
  }
  return "?";
}

}  // namespace bnl::record::schema
