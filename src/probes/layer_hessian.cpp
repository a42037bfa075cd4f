#include "bnlandscape/probes/layer_hessian.h"

#include <cstring>

#include <c10/util/Exception.h>

#include "operator_product.h"

namespace bnl::probes {

template <class Op>
BlockOperator<Op>::BlockOperator(const Op& op, ParamBlock block)
    : op_(op), block_(std::move(block)) {
  std::int64_t size = 0;
  for (const auto& [off, len] : block_.ranges) {
    TORCH_CHECK(off >= 0 && len >= 0 && off + len <= op_.rows(), "BlockOperator: expected ranges inside [0, ",
                op_.rows(), "), got (", off, ", ", len, ") in block ", block_.name);
    size += len;
  }
  TORCH_CHECK(size == block_.size && size > 0, "BlockOperator: expected a nonempty block whose size (",
              block_.size, ") is the sum of its ranges (", size, "), block ", block_.name);
}

template <class Op>
void BlockOperator<Op>::perform_op(const Scalar* x_in, Scalar* y_out) const {
  torch::Tensor full = torch::zeros({op_.rows()}, torch::kDouble);
  double* f = full.data_ptr<double>();
  std::int64_t pos = 0;
  for (const auto& [off, len] : block_.ranges) {
    std::memcpy(f + off, x_in + pos, sizeof(double) * static_cast<std::size_t>(len));
    pos += len;
  }
  const torch::Tensor y = detail::apply(op_, full).to(torch::kCPU, torch::kDouble).contiguous();
  const double* yy = y.data_ptr<double>();
  pos = 0;
  for (const auto& [off, len] : block_.ranges) {
    std::memcpy(y_out + pos, yy + off, sizeof(double) * static_cast<std::size_t>(len));
    pos += len;
  }
}

template class BlockOperator<HessianOperator>;
template class BlockOperator<GgnOperator>;

namespace {

template <class Op>
LayerEigenResult layer_top_eigs_on(const Op& op, const std::vector<ParamBlock>& blocks, const LanczosOptions& opt) {
  TORCH_CHECK(opt.warm_start.size() == 0, "layer_top_eigs: expected no warm start, got one of size ",
              opt.warm_start.size());
  for (const auto& b : blocks)
    TORCH_CHECK(opt.k >= 1 && opt.k < b.size, "layer_top_eigs: expected 1 <= k < the size of every block, got k = ",
                opt.k, " for block ", b.name, " of ", b.size, " parameters");
  LayerEigenResult r;
  const std::int64_t before = op.hvp_count();
  for (const auto& b : blocks) {
    LanczosOptions o = opt;
    o.largest = true;
    if (o.ncv != 0) o.ncv = std::min<int>(o.ncv, static_cast<int>(b.size));
    if (o.ncv != 0 && o.ncv <= o.k) o.ncv = 0;
    const auto e = lanczos_eigs(BlockOperator<Op>(op, b), o);
    r.eigenvalues.push_back(e.eigenvalues);
    r.converged = r.converged && e.converged;
  }
  r.hvp_count = op.hvp_count() - before;
  return r;
}

}  // namespace

LayerEigenResult layer_top_eigs(const HessianOperator& op, const std::vector<ParamBlock>& blocks,
                                const LanczosOptions& opt) {
  return layer_top_eigs_on(op, blocks, opt);
}

LayerEigenResult layer_top_eigs(const GgnOperator& op, const std::vector<ParamBlock>& blocks,
                                const LanczosOptions& opt) {
  return layer_top_eigs_on(op, blocks, opt);
}

}  // namespace bnl::probes
