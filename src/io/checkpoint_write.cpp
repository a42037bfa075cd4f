#include <c10/util/typeid.h>

#include "bnlandscape/io/checkpoint.h"
#include "run_file_impl.h"

namespace bnl::io {
namespace {

using detail::Failure;
using detail::guarded;
using detail::in_quotes;
using detail::valid_link_name;

}  // namespace

std::string RunFile::write_checkpoint(
    std::int64_t step, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
    const std::vector<std::pair<std::string, torch::Tensor>>& state) {
  Impl& f = *impl_;
  const std::string gpath = checkpoint_group(step);
  const std::string what = "writing checkpoint " + in_quotes(gpath);
  f.require_open(what);
  auto fail = [&](const std::string& why) { throw IoError(f.path + ": " + what + " failed: " + why); };
  if (step < 0) fail("negative step");
  // Checked up front so that a bad tensor leaves no half-written checkpoint behind.
  auto check_tensor = [&](const std::string& name, const torch::Tensor& t) {
    if (!valid_link_name(name)) fail("invalid tensor name " + in_quotes(name));
    if (!t.defined()) fail("tensor " + in_quotes(name) + " is undefined");
    if (!detail::supported_dtype(t.scalar_type())) {
      fail("tensor " + in_quotes(name) + " has unsupported dtype " +
           std::string(c10::toString(t.scalar_type())) +
           " (float32, float64, int8/16/32/64, uint8 and bool are supported)");
    }
  };
  for (const auto& [name, t] : tensors) {
    if (name == "_state") fail("tensor name '_state' is reserved for the optimizer state");
    check_tensor(name, t);
  }
  for (const auto& [name, t] : state) check_tensor(name, t);
  f.dirty = true;
  guarded(f.path, what, [&] {
    if (detail::path_exists(*f.file, gpath)) throw Failure("it already exists");
    const H5::Group group = detail::require_group(*f.file, gpath, true);
    detail::write_attr(group, "step", step);
    for (const auto& [name, t] : tensors) detail::write_tensor(group, name, t);
    const H5::Group state_group = detail::require_group(*f.file, gpath + "/_state", true);
    for (const auto& [name, t] : state) detail::write_tensor(state_group, name, t);
  });
  for (auto& s : f.series) s->flush();
  if (f.commit_due()) f.commit(what, false);
  return gpath;
}

}  // namespace bnl::io
