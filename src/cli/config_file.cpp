#include "bnlandscape/cli/config_file.h"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "bnlandscape/train/config.h"

namespace bnl::cli {
namespace {

struct Cursor {
  const std::string& s;
  std::size_t i = 0;
  void skip_ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  }
  bool done() const { return i >= s.size(); }
};

[[noreturn]] void fail(const std::string& source, int line, const std::string& what) {
  throw train::ConfigError(source + ":" + std::to_string(line) + ": " + what);
}

std::string parse_string(Cursor& c, const std::string& source, int line) {
  const char q = c.s[c.i++];
  std::string out;
  while (true) {
    if (c.done()) fail(source, line, "unterminated string");
    char ch = c.s[c.i++];
    if (ch == q) return out;
    if (q == '"' && ch == '\\') {
      if (c.done()) fail(source, line, "unterminated escape");
      char e = c.s[c.i++];
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case '\\': out += '\\'; break;
        case '"': out += '"'; break;
        default: fail(source, line, std::string("unsupported escape \\") + e);
      }
    } else {
      out += ch;
    }
  }
}

std::string parse_scalar(Cursor& c, const std::string& source, int line) {
  c.skip_ws();
  if (c.done()) fail(source, line, "expected a value after '='");
  if (c.s[c.i] == '"' || c.s[c.i] == '\'') return parse_string(c, source, line);
  const std::size_t start = c.i;
  while (!c.done() && c.s[c.i] != ',' && c.s[c.i] != ']' && c.s[c.i] != '#' && c.s[c.i] != ' ' && c.s[c.i] != '\t')
    ++c.i;
  std::string tok = c.s.substr(start, c.i - start);
  if (tok.empty()) fail(source, line, "expected a value");
  if (tok == "true" || tok == "false") return tok;
  // Numbers: TOML allows '_' separators and a leading '+'.
  std::string num;
  for (char ch : tok)
    if (ch != '_') num += ch;
  if (!num.empty() && num[0] == '+') num.erase(0, 1);
  double d = 0;
  const auto r = std::from_chars(num.data(), num.data() + num.size(), d);
  if (r.ec != std::errc() || r.ptr != num.data() + num.size())
    fail(source, line, "expected a number, true, false, a \"string\" or an [array], got '" + tok + "'");
  return num;
}

}  // namespace

std::vector<ConfigEntry> parse_config_text(const std::string& text, const std::string& source,
                                           bool allow_tables) {
  std::vector<ConfigEntry> out;
  // Full key -> line of its first occurrence (scanning `out` for every line was quadratic).
  std::unordered_map<std::string, int> first_line;
  std::istringstream in(text);
  std::string raw, table;
  int line = 0;
  while (std::getline(in, raw)) {
    ++line;
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    Cursor c{raw};
    c.skip_ws();
    if (c.done() || raw[c.i] == '#') continue;
    if (raw[c.i] == '[') {
      if (!allow_tables) fail(source, line, "expected flat 'key = value' lines, got table header '" + raw.substr(c.i) + "'");
      const auto close = raw.find(']', c.i);
      if (close == std::string::npos) fail(source, line, "unterminated table header");
      table = raw.substr(c.i + 1, close - c.i - 1);
      Cursor rest{raw, close + 1};
      rest.skip_ws();
      if (!rest.done() && raw[rest.i] != '#') fail(source, line, "unexpected text after table header");
      continue;
    }
    const std::size_t kstart = c.i;
    while (!c.done() && (std::isalnum(static_cast<unsigned char>(raw[c.i])) || raw[c.i] == '_' || raw[c.i] == '-'))
      ++c.i;
    std::string key = raw.substr(kstart, c.i - kstart);
    c.skip_ws();
    if (key.empty() || c.done() || raw[c.i] != '=')
      fail(source, line, "expected 'key = value', got '" + raw.substr(kstart) + "'");
    ++c.i;
    c.skip_ws();
    const std::size_t vstart = c.i;
    std::string value;
    if (!c.done() && raw[c.i] == '[') {
      ++c.i;
      bool first = true;
      while (true) {
        c.skip_ws();
        if (c.done()) fail(source, line, "unterminated array (arrays must be on one line)");
        if (raw[c.i] == ']') {
          ++c.i;
          break;
        }
        if (!first) {
          if (raw[c.i] != ',') fail(source, line, "expected ',' or ']' in array");
          ++c.i;
          c.skip_ws();
          if (!c.done() && raw[c.i] == ']') {
            ++c.i;
            break;
          }
        }
        value += (first ? "" : ",") + parse_scalar(c, source, line);
        first = false;
      }
    } else {
      value = parse_scalar(c, source, line);
    }
    std::string text = raw.substr(vstart, c.i - vstart);
    c.skip_ws();
    if (!c.done() && raw[c.i] != '#') fail(source, line, "unexpected text after value: '" + raw.substr(c.i) + "'");
    std::string full = table.empty() ? key : table + "." + key;
    const auto [seen, fresh] = first_line.emplace(full, line);
    if (!fresh)
      fail(source, line, "duplicate key '" + key + "' (first on line " + std::to_string(seen->second) + ")");
    out.push_back({std::move(full), value, line, std::move(text)});
  }
  return out;
}

std::vector<ConfigEntry> read_config_file(const std::string& path, bool allow_tables) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw train::ConfigError(path + ": cannot open: " + std::strerror(errno) + " (expected a TOML config file)");
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_config_text(ss.str(), path, allow_tables);
}

std::string toml_quote(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default: out += ch;
    }
  }
  return out + "\"";
}

std::string format_double(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  std::string s(buf, r.ptr);
  // Keep a float recognisable as one in TOML.
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

}  // namespace bnl::cli
