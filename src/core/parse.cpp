#include "bnlandscape/core/parse.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "bnlandscape/core/error.h"

namespace bnl::core {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> split_items(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const auto comma = s.find(',', start);
    out.push_back(trim(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  for (auto& item : split_items(s))
    if (!item.empty()) out.push_back(std::move(item));
  return out;
}

std::optional<double> parse_double(const std::string& tok) {
  const std::string t = trim(tok);
  if (t.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(t.c_str(), &end);
  // strtod reports overflow with ERANGE and +-HUGE_VAL; std::stod threw there, and a value
  // out of range is no more a double here than it was.
  if (end != t.c_str() + t.size() || (errno == ERANGE && std::isinf(v))) return std::nullopt;
  return v;
}

std::optional<std::int64_t> parse_int(const std::string& tok) {
  const std::string t = trim(tok);
  if (t.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(t.c_str(), &end, 10);
  if (end != t.c_str() + t.size() || errno == ERANGE) return std::nullopt;
  return static_cast<std::int64_t>(v);
}

std::optional<std::pair<double, double>> parse_range(const std::string& s) {
  const auto comma = s.find(',');
  if (comma == std::string::npos) return std::nullopt;
  const auto lo = parse_double(s.substr(0, comma));
  const auto hi = parse_double(s.substr(comma + 1));
  if (!lo || !hi || !std::isfinite(*lo) || !std::isfinite(*hi) || !(*lo < *hi)) return std::nullopt;
  return std::make_pair(*lo, *hi);
}

std::pair<double, double> parse_range_option(const std::string& s, const std::string& option) {
  if (auto r = parse_range(s)) return *r;
  throw ConfigError("--" + option + " = \"" + s + "\": expected \"lo,hi\" with finite lo < hi");
}

}  // namespace bnl::core
