#pragma once
/// \file
/// What the program was built from: record/build_info.h, under its former cli name.

#include "bnlandscape/record/build_info.h"

namespace bnl::cli {

using record::git_revision;

}  // namespace bnl::cli
