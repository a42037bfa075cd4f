#include "bnlandscape/record/resume_point.h"

#include <iostream>

#include "bnlandscape/io/checkpoint.h"
#include "bnlandscape/io/run_file.h"
#include "bnlandscape/record/legacy_tensor_names.h"
#include "bnlandscape/record/schema_names.h"
#include "bnlandscape/train/config.h"

namespace bnl::record {

torch::Tensor ResumeInfo::find_state(const std::string& name) const {
  for (const auto& [k, t] : state)
    if (k == name) return t;
  return {};
}

bool ResumeInfo::epoch_recorded() const {
  const auto batches = find_state("batches_in_epoch");
  return active && step > 0 && batches.defined() && batches.reshape(-1)[0].item<std::int64_t>() == 0;
}

ResumeInfo read_resume_point(const std::string& path) {
  const auto groups = io::list_checkpoints(path);
  if (groups.empty())
    throw train::ConfigError("--resume " + path + ": expected a checkpoint to continue from, got none (the run "
                             "stopped before its first checkpoint, at the end of its first epoch or after "
                             "--checkpoint-minutes, unless --checkpoint-every said otherwise; start it again)");
  ResumeInfo r;
  r.active = true;
  std::string why;
  // Newest first; a checkpoint that does not read back (a file damaged outside bnlandscape, or
  // written before commits were atomic) is passed over for the one before it.
  for (auto g = groups.rbegin(); g != groups.rend(); ++g) {
    try {
      r.weights = read_model_tensors(path, *g);
      r.state = io::read_tensor_group(path, *g + "/" + names::kCheckpointState);
      const auto step = r.find_state("step");
      if (!step.defined()) throw io::IoError(*g + "/_state has no 'step'");
      r.step = step.reshape(-1)[0].item<std::int64_t>();
      r.group = *g;
      return r;
    } catch (const io::IoError& e) {
      std::cerr << "bnlandscape: warning: --resume " << path << ": passing over unreadable checkpoint " << *g << " ("
                << e.what() << ")\n";
      r.unreadable_groups.push_back(*g);
      why = e.what();
    }
  }
  throw train::ConfigError("--resume " + path + ": expected a readable checkpoint, got none of " +
                           std::to_string(groups.size()) + " (last error: " + why + ")");
}

}  // namespace bnl::record
