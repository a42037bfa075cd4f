#pragma once
/// \file
/// The parsers of option values written as text ("512,256,128", "lo,hi", "net.0, net.3"):
/// one implementation each, shared by the model factory, the configuration checks and the
/// commands. Throwing is left to the callers, which know the option's name.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace bnl::core {

/// `s` without leading and trailing blanks (spaces, tabs).
std::string trim(const std::string& s);

/// Splits `s` at commas into trimmed items, keeping empty ones ("1,,2" -> {"1", "", "2"}),
/// so that callers can reject them; an empty `s` gives one empty item.
std::vector<std::string> split_items(const std::string& s);

/// Splits "net.0, net.3" into {"net.0", "net.3"}: trimmed items, empty ones dropped.
std::vector<std::string> split_list(const std::string& s);

/// The whole of `tok` (blanks around it allowed) as a double; nullopt if it is not one.
std::optional<double> parse_double(const std::string& tok);

/// The whole of `tok` (blanks around it allowed) as a 64-bit integer; nullopt if it is not one.
std::optional<std::int64_t> parse_int(const std::string& tok);

/// "lo,hi" with finite lo < hi; nullopt for anything else.
std::optional<std::pair<double, double>> parse_range(const std::string& s);

/// parse_range for the option `--<option>`; throws bnl::ConfigError
/// `--<option> = "<s>": expected "lo,hi" with finite lo < hi` otherwise.
std::pair<double, double> parse_range_option(const std::string& s, const std::string& option);

}  // namespace bnl::core
