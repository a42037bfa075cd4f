#include "bnlandscape/record/schema_doc.h"

#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "bnlandscape/core/parse.h"

namespace bnl::record::schema {
namespace {

// What a document says about one dataset or attribute.
struct DocEntry {
  std::string name, dtype, shape, units;
  bool has_units = false;
};

std::string strip_ticks(std::string s) {
  std::string out;
  for (char c : s)
    if (c != '`') out += c;
  return core::trim(out);
}

// "[n x L]" and "`[n, L]` (1-D: `[a]`)" both read as "[n, L]"; a cell without brackets as is.
std::string norm_shape(const std::string& cell) {
  std::string s = strip_ticks(cell);
  const auto a = s.find('['), b = s.find(']');
  if (a != std::string::npos && b != std::string::npos && b > a) s = s.substr(a, b - a + 1);
  s = std::regex_replace(s, std::regex(" x "), ", ");
  s = std::regex_replace(s, std::regex("·"), "*");
  return std::regex_replace(s, std::regex("\\s+"), " ");
}

std::string norm_dtype(const std::string& cell) {
  const std::string s = strip_ticks(cell);
  return s == "parameter dtype" ? "tensor" : s;
}

std::string norm_units(const std::string& cell) {
  const std::string s = strip_ticks(cell);
  return s == "—" || s == "-" ? "" : s;
}

std::vector<std::string> cells(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  for (std::size_t i = 1; i < line.size(); ++i) {
    if (line[i] == '|') {
      out.push_back(core::trim(cur));
      cur.clear();
    } else {
      cur += line[i];
    }
  }
  return out;
}

// A section's entries: its table rows and code-block dataset lines.
struct Section {
  std::string path;
  std::vector<DocEntry> entries;
};

void add_table_row(Section& sec, const std::vector<std::string>& head, const std::vector<std::string>& row) {
  std::map<std::string, std::string> col;
  for (std::size_t i = 0; i < head.size() && i < row.size(); ++i) col[head[i]] = row[i];
  const auto names = core::split_list(strip_ticks(col.count("dataset") ? col["dataset"] : col["attribute"]));
  const auto types = core::split_list(strip_ticks(col.count("dtype") ? col["dtype"] : col["type"]));
  for (std::size_t i = 0; i < names.size(); ++i) {
    DocEntry e;
    e.name = names[i];
    e.dtype = norm_dtype(types.size() == names.size() ? types[i] : types.empty() ? "" : types[0]);
    e.shape = col.count("shape") ? norm_shape(col["shape"]) : "";
    e.has_units = col.count("units") > 0;
    e.units = norm_units(col["units"]);
    sec.entries.push_back(e);
  }
}

std::vector<Section> parse_doc(const std::string& markdown) {
  std::vector<Section> out;
  std::istringstream in(markdown);
  std::string line;
  std::vector<std::string> head;
  bool fenced = false;
  static const std::regex heading("^## [^`]*`([^`]+)`.*");
  static const std::regex block_line("^\\s*([A-Za-z_/<>][\\w/<>.]*(?:, [\\w]+)*)\\s+(int64|float64)\\s+(\\[[^\\]]*\\]).*");
  while (std::getline(in, line)) {
    std::smatch m;
    if (line.rfind("```", 0) == 0) {
      fenced = !fenced;
      continue;
    }
    if (!fenced && line.rfind("## ", 0) == 0) {
      out.push_back({std::regex_match(line, m, heading) ? m[1].str() : "", {}});
      head.clear();
      continue;
    }
    if (out.empty() || out.back().path.empty()) continue;
    if (fenced) {
      if (!std::regex_match(line, m, block_line)) continue;
      for (auto name : core::split_list(m[1].str())) {
        const auto slash = name.rfind('/');
        if (slash != std::string::npos) name = name.substr(slash + 1);
        out.back().entries.push_back({name, m[2].str(), norm_shape(m[3].str()), "", false});
      }
    } else if (line.rfind("|", 0) == 0) {
      const auto row = cells(line);
      if (head.empty()) head = row;
      else if (row.empty() || row[0].rfind("---", 0) != 0) add_table_row(out.back(), head, row);
    } else {
      head.clear();
    }
  }
  return out;
}

bool in_section(const Group& g, const std::string& path) {
  return g.path == path || g.path.rfind(path == "/" ? "\x01" : path + "/", 0) == 0;
}

// The declared item `name` among the section's groups (datasets, or root attributes).
const Item* find_item(const std::vector<const Group*>& groups, const std::string& name, std::string& where) {
  for (const auto* g : groups) {
    for (const auto* list : {&g->columns, &g->arrays, &g->attributes}) {
      for (const auto& it : *list) {
        if (it.name != name || !it.on.empty()) continue;
        if (list == &g->attributes && g->path != "/") continue;
        where = g->path;
        return &it;
      }
    }
  }
  return nullptr;
}

std::string quote(const std::string& s) { return "'" + s + "'"; }

}  // namespace

std::vector<std::string> check_doc(const std::string& markdown, const std::vector<Group>& groups) {
  std::vector<std::string> diffs;
  std::set<std::string> covered;
  for (const auto& sec : parse_doc(markdown)) {
    if (sec.entries.empty()) continue;
    std::vector<const Group*> mine;
    for (const auto& g : groups)
      if (in_section(g, sec.path)) mine.push_back(&g);
    for (const auto* g : mine) covered.insert(g->path);
    std::set<std::string> seen;
    for (const auto& e : sec.entries) {
      std::string where;
      const Item* it = find_item(mine, e.name, where);
      const std::string at = sec.path == "/" ? "/" + e.name : sec.path + "/" + e.name;
      if (!it) {
        diffs.push_back(at + ": in the doc, not declared");
        continue;
      }
      seen.insert(where + "\n" + it->name);
      const std::string id = (where == "/" ? "" : where) + "/" + it->name;
      if (e.dtype != dtype_name(it->dtype))
        diffs.push_back(id + ": dtype: doc " + quote(e.dtype) + ", declared " + quote(dtype_name(it->dtype)));
      if (!e.shape.empty() && e.shape != it->shape)
        diffs.push_back(id + ": shape: doc " + quote(e.shape) + ", declared " + quote(it->shape));
      if (e.has_units && e.units != it->units)
        diffs.push_back(id + ": units: doc " + quote(e.units) + ", declared " + quote(it->units));
    }
    for (const auto* g : mine) {
      const bool root = g->path == "/";
      std::vector<const Item*> declared;
      for (const auto& it : root ? g->attributes : g->columns) declared.push_back(&it);
      if (!root)
        for (const auto& it : g->arrays) declared.push_back(&it);
      for (const auto* it : declared)
        if (it->on.empty() && !seen.count(g->path + "\n" + it->name))
          diffs.push_back((root ? "" : g->path) + "/" + it->name + ": declared, not in the doc");
    }
  }
  // A group the doc has no section for; checkpoints are documented by example only.
  for (const auto& g : groups) {
    bool tensors_only = g.columns.empty() && g.path != "/";
    for (const auto& a : g.arrays) tensors_only = tensors_only && a.dtype == Dtype::Tensor;
    if (!tensors_only && !covered.count(g.path)) diffs.push_back(g.path + ": declared, no section in the doc");
  }
  return diffs;
}

}  // namespace bnl::record::schema
