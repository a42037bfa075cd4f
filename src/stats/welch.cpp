#include "bnlandscape/stats/welch.h"

#include <cmath>
#include <limits>

#include "bnlandscape/stats/descriptive.h"
#include "bnlandscape/stats/special_functions.h"

namespace bnl::stats {

Welch welch_t_test(const std::vector<double>& a, const std::vector<double>& b) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  Welch w{kNaN, kNaN, kNaN};
  const Pooled pa = pool(a), pb = pool(b);
  if (pa.n < 2 || pb.n < 2) return w;
  const double va = pa.sd * pa.sd / static_cast<double>(pa.n);
  const double vb = pb.sd * pb.sd / static_cast<double>(pb.n);
  const double se2 = va + vb;
  if (!(se2 > 0)) return w;
  w.t = (pa.mean - pb.mean) / std::sqrt(se2);
  w.df = se2 * se2 / (va * va / static_cast<double>(pa.n - 1) + vb * vb / static_cast<double>(pb.n - 1));
  // Two-sided: P(|T| >= |t|) = I_{df/(df+t^2)}(df/2, 1/2).
  w.p = incomplete_beta(0.5 * w.df, 0.5, w.df / (w.df + w.t * w.t));
  return w;
}

}  // namespace bnl::stats
