#pragma once
/// \file
/// JSON text helpers shared by the commands' JSON output (cli/export_command.h) and the schema's
/// JSON form (record/schema_doc.h).

#include <string>

namespace bnl::core {

/// `s` as a JSON string literal, quotes included: `"` and `\` are backslash-escaped, LF, CR and
/// tab become \n, \r and \t, other control characters \u00XX; other bytes (UTF-8 included)
/// pass through unchanged.
std::string json_quote(const std::string& s);

}  // namespace bnl::core
