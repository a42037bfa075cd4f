#include "bnlandscape/cli/sweep_matrix.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>
#include <type_traits>

#include "bnlandscape/cli/option_catalog.h"
#include "bnlandscape/probes/landscape_probe.h"
#include "bnlandscape/train/config.h"

namespace bnl::cli {
namespace {

std::string underscored(std::string key) {
  for (char& ch : key)
    if (ch == '-') ch = '_';
  return key;
}

[[noreturn]] void fail(const std::string& source, int line, const std::string& what) {
  throw train::ConfigError(source + ":" + std::to_string(line) + ": " + what);
}

/// The elements of a one-line TOML array after the '=' of `raw`, strings unquoted (the line
/// was already checked by parse_config_text; this keeps "512,256" one element). nullopt if
/// the value is not an array.
std::optional<std::vector<std::string>> parse_list(const std::string& raw, const std::string& source, int line) {
  std::size_t i = raw.find('=');
  if (i == std::string::npos) return std::nullopt;
  ++i;
  auto ws = [&] {
    while (i < raw.size() && (raw[i] == ' ' || raw[i] == '\t')) ++i;
  };
  ws();
  if (i >= raw.size() || raw[i] != '[') return std::nullopt;
  ++i;
  std::vector<std::string> out;
  while (true) {
    ws();
    if (i >= raw.size()) fail(source, line, "unterminated array");
    if (raw[i] == ']') break;
    std::string v;
    const char q = raw[i];
    if (q == '"' || q == '\'') {
      ++i;
      while (true) {
        if (i >= raw.size()) fail(source, line, "unterminated string");
        char ch = raw[i++];
        if (ch == q) break;
        if (q == '"' && ch == '\\' && i < raw.size()) {
          const char e = raw[i++];
          v += e == 'n' ? '\n' : e == 't' ? '\t' : e;
        } else {
          v += ch;
        }
      }
    } else {
      const std::size_t start = i;
      while (i < raw.size() && raw[i] != ',' && raw[i] != ']' && raw[i] != ' ' && raw[i] != '\t' && raw[i] != '#') ++i;
      std::string tok = raw.substr(start, i - start);
      if (tok != "true" && tok != "false") {
        tok.erase(std::remove(tok.begin(), tok.end(), '_'), tok.end());
        if (!tok.empty() && tok[0] == '+') tok.erase(0, 1);
      }
      v = tok;
    }
    out.push_back(v);
    ws();
    if (i < raw.size() && raw[i] == ',') {
      ++i;
      continue;
    }
    if (i < raw.size() && raw[i] == ']') break;
    fail(source, line, "expected ',' or ']' in array");
  }
  return out;
}

bool same_value(std::string a, std::string b) {
  auto strip = [](std::string& s) { s.erase(std::remove_if(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t'; }), s.end()); };
  strip(a);
  strip(b);
  if (a == b) return true;
  double x = 0, y = 0;
  const auto rx = std::from_chars(a.data(), a.data() + a.size(), x);
  const auto ry = std::from_chars(b.data(), b.data() + b.size(), y);
  return rx.ec == std::errc() && ry.ec == std::errc() && rx.ptr == a.data() + a.size() &&
         ry.ptr == b.data() + b.size() && x == y;
}

}  // namespace

// Every train and probe key with its flag-ness; which keys are probe options is decided by the
// option catalogue (is_probe_option), not again here.
const std::map<std::string, SweepOptionKind>& sweep_option_table() {
  static const std::map<std::string, SweepOptionKind> table = [] {
    std::map<std::string, SweepOptionKind> m;
    const auto add = [&](const char* key, auto& field, const char*) {
      m.emplace(key, SweepOptionKind{std::is_same_v<std::decay_t<decltype(field)>, bool>, is_probe_option(key)});
    };
    train::TrainConfig c;
    train::visit_train_options(c, add);
    probes::ProbeConfig p;
    probes::visit_probe_options(p, add);
    return m;
  }();
  return table;
}

std::optional<std::string> config_mismatch(const std::string& stored_toml, const std::string& file,
                                           const SweepPoint& pt) {
  std::map<std::string, std::string> stored;
  for (const auto& e : parse_config_text(stored_toml, file + ":config_toml")) stored[underscored(e.key)] = e.value;
  for (const auto& [k, v] : pt.values) {
    if (k == "quiet" || k == "overwrite") continue;
    auto it = stored.find(k);
    if (it == stored.end()) return k + " is not in its configuration";
    if (!same_value(it->second, v)) return k + " = " + it->second + " there, " + v + " in the sweep";
  }
  return std::nullopt;
}

std::int64_t given_threads(const SweepSpec& spec, bool& given) {
  std::int64_t t = 0;
  given = false;
  auto take = [&](const std::string& v) {
    given = true;
    try {
      t = std::max<std::int64_t>(t, std::stoll(v));
    } catch (const std::exception&) {
    }
  };
  for (const auto& e : spec.fixed)
    if (e.key == "threads") take(e.value);
  for (const auto& a : spec.axes)
    if (a.key == "threads")
      for (const auto& v : a.values) take(v);
  return t;
}

std::size_t SweepSpec::size() const {
  std::size_t n = 1;
  for (const auto& a : axes) n *= a.values.size();
  return n;
}

SweepSpec parse_sweep_spec(const std::string& text, const std::string& source) {
  SweepSpec spec;
  spec.source = source;
  std::vector<std::string> lines;
  {
    std::istringstream in(text);
    std::string l;
    while (std::getline(in, l)) lines.push_back(l);
  }
  std::map<std::string, int> seen;  // key -> line
  bool probe = false;
  for (const auto& e : parse_config_text(text, source, /*allow_tables=*/true)) {
    const auto dot = e.key.rfind('.');
    const std::string table = dot == std::string::npos ? "" : e.key.substr(0, dot);
    const std::string key = underscored(dot == std::string::npos ? e.key : e.key.substr(dot + 1));
    if (!table.empty() && table != "sweep")
      fail(source, e.line, "unknown table [" + table + "]; expected top-level options and one [sweep] table");
    const auto info = sweep_option_table().find(key);
    if (info == sweep_option_table().end())
      fail(source, e.line, "unknown key '" + key + "' (expected an option of 'bnlandscape train' or 'bnlandscape probe')");
    if (key == "out")
      fail(source, e.line, "'out' is set by the sweep (one run file per point under --out DIR)");
    if (auto [it, fresh] = seen.emplace(key, e.line); !fresh)
      fail(source, e.line, "'" + key + "' is given twice (first on line " + std::to_string(it->second) + ")");
    probe = probe || info->second.is_probe;
    if (table.empty()) {
      spec.fixed.push_back({key, e.value, e.line, e.text});
      continue;
    }
    SweepAxis axis;
    axis.key = key;
    axis.line = e.line;
    const std::string& raw = e.line >= 1 && static_cast<std::size_t>(e.line) <= lines.size() ? lines[e.line - 1] : "";
    if (auto list = parse_list(raw, source, e.line)) axis.values = std::move(*list);
    else axis.values = {e.value};
    if (axis.values.empty()) fail(source, e.line, "[sweep] " + key + ": expected at least one value, got []");
    std::set<std::string> distinct(axis.values.begin(), axis.values.end());
    if (distinct.size() != axis.values.size()) fail(source, e.line, "[sweep] " + key + ": a value is listed twice");
    spec.axes.push_back(std::move(axis));
  }
  spec.command = probe ? "probe" : "train";
  return spec;
}

SweepSpec read_sweep_spec(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw train::ConfigError(path + ": cannot open sweep file");
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_sweep_spec(ss.str(), path);
}

std::string sanitize_value(const std::string& v) {
  std::string out;
  for (unsigned char ch : v) out += (std::isalnum(ch) || ch == '.' || ch == '+' || ch == '-') ? static_cast<char>(ch) : '-';
  if (out.empty()) out = "none";
  if (out[0] == '.') out[0] = '-';  // no hidden files
  return out;
}

std::vector<SweepPoint> sweep_points(const SweepSpec& spec) {
  std::vector<SweepPoint> points(spec.size());
  for (std::size_t i = 0; i < points.size(); ++i) {
    SweepPoint& p = points[i];
    p.index = i;
    for (const auto& e : spec.fixed) p.values.emplace_back(e.key, e.value);
    std::vector<std::size_t> pick(spec.axes.size());
    std::size_t rest = i;
    for (std::size_t a = spec.axes.size(); a-- > 0;) {
      pick[a] = rest % spec.axes[a].values.size();
      rest /= spec.axes[a].values.size();
    }
    std::string name;
    for (std::size_t a = 0; a < spec.axes.size(); ++a) {
      const std::string& v = spec.axes[a].values[pick[a]];
      p.values.emplace_back(spec.axes[a].key, v);
      name += (name.empty() ? "" : "_") + spec.axes[a].key + "=" + sanitize_value(v);
    }
    if (name.empty()) name = "run";
    if (name.size() > 200) name = name.substr(0, 180) + "_p" + std::to_string(i);
    p.name = name;
  }
  // Values that sanitise alike ("a/b", "a-b") would share a file: number them.
  std::map<std::string, int> count;
  for (const auto& p : points) ++count[p.name];
  for (auto& p : points)
    if (count[p.name] > 1) p.name += "_p" + std::to_string(p.index);
  return points;
}

}  // namespace bnl::cli
