#pragma once
/// \file
/// docs/options.md, generated from the option declarations (option_rows()), and the check that
/// a committed copy is current.

#include <string>
#include <vector>

#include "bnlandscape/cli/option_catalog.h"

namespace bnl::cli {

/// The Markdown text of docs/options.md: one table per subcommand (flag, TOML key, default,
/// unit, allowed values, doc) of `rows`.
std::string options_markdown(const std::vector<OptionRow>& rows);

/// "" when `committed` equals `generated`; otherwise the first line where they differ, with
/// both versions of it and how to regenerate the file.
std::string stale_report(const std::string& committed, const std::string& generated);

}  // namespace bnl::cli
